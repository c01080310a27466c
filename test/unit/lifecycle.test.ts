// The manager's lifecycle: one state -> error mapping for the API and /readyz, and the drain's wait
// for accepted messages.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OcpmError } from '../../src/errors/errors.js';
import { Lifecycle, MANAGER_STATES, stateRejection } from '../../src/manager/lifecycle.js';

describe('stateRejection', () => {
  it('maps every state to one error code (ready takes messages)', () => {
    const codes = Object.fromEntries(MANAGER_STATES.map((state) => [state, stateRejection(state, 'no binary')?.code ?? null]));
    assert.deepEqual(codes, {
      created: 'not_ready',
      starting: 'not_ready',
      ready: null,
      unavailable: 'opencode_unavailable',
      draining: 'draining',
      stopping: 'draining',
      stopped: 'not_ready',
    });
  });

  it('says why opencode is unavailable', () => {
    assert.equal(stateRejection('unavailable', 'opencode not found on PATH')?.message, 'opencode is unavailable: opencode not found on PATH');
  });
});

describe('Lifecycle', () => {
  it('throws the rejection of its state as an OcpmError, and nothing when ready', () => {
    const lifecycle = new Lifecycle();
    assert.throws(
      () => lifecycle.assertReady(),
      (error: unknown) => error instanceof OcpmError && error.code === 'not_ready',
    );
    lifecycle.enter('ready');
    lifecycle.assertReady();
    lifecycle.enter('draining');
    assert.throws(
      () => lifecycle.assertReady(),
      (error: unknown) => error instanceof OcpmError && error.code === 'draining',
    );
    assert.equal(lifecycle.shuttingDown, true);
  });

  it('keeps the unavailable reason only while unavailable', () => {
    const lifecycle = new Lifecycle();
    lifecycle.enter('unavailable', 'broken binary');
    assert.equal(lifecycle.unavailableReason, 'broken binary');
    lifecycle.enter('draining');
    assert.equal(lifecycle.unavailableReason, null);
  });

  it('settles at once with nothing accepted, and when the last accepted message leaves', async () => {
    const lifecycle = new Lifecycle();
    assert.equal(await lifecycle.settle(60_000), true);
    const leaveA = lifecycle.accept();
    const leaveB = lifecycle.accept();
    assert.equal(lifecycle.pending, 2);
    const settled = lifecycle.settle(60_000);
    leaveA();
    leaveA(); // a second call does not count twice
    assert.equal(lifecycle.pending, 1);
    leaveB();
    assert.equal(await settled, true);
    assert.equal(lifecycle.pending, 0);
  });

  it('gives up at the timeout while a message is still in flight', async () => {
    const lifecycle = new Lifecycle();
    const leave = lifecycle.accept();
    assert.equal(await lifecycle.settle(20), false);
    leave();
  });
});
