// StartGate: at most `limit` starts at once, the others admitted in arrival order as starts end; a
// waiting start whose pool closes is dropped from the queue.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StartGate } from '../../src/manager/server/start-gate.js';

describe('StartGate', () => {
  it('admits up to its limit at once and the rest in arrival order as starts end', async () => {
    const gate = new StartGate(1);
    const open = new AbortController().signal;
    const first = await gate.enter(open);
    assert.ok(first !== undefined);
    const order: string[] = [];
    const second = gate.enter(open).then((leave) => (order.push('second'), leave));
    const third = gate.enter(open).then((leave) => (order.push('third'), leave));
    await Promise.resolve();
    assert.deepEqual(order, []);
    assert.deepEqual({ ...gate.status(), oldestWaitMs: 0 }, { limit: 1, starting: 1, waiting: 2, oldestWaitMs: 0 });
    first();
    first(); // a second call does not admit another start
    const leaveSecond = await second;
    assert.deepEqual(order, ['second']);
    assert.equal(gate.status().waiting, 1);
    leaveSecond!();
    (await third)!();
    assert.deepEqual(order, ['second', 'third']);
    assert.deepEqual(gate.status(), { limit: 1, starting: 0, waiting: 0, oldestWaitMs: 0 });
  });

  it('drops a waiting start when the pool closes, and admits none after', async () => {
    const gate = new StartGate(1);
    const close = new AbortController();
    const leave = await gate.enter(close.signal);
    const waiting = gate.enter(close.signal);
    close.abort();
    assert.equal(await waiting, undefined);
    assert.equal(gate.status().waiting, 0);
    assert.equal(await gate.enter(close.signal), undefined);
    leave!();
    assert.equal(gate.status().starting, 0);
  });
});
