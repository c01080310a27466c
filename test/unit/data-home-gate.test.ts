// DataHomeGate: in a data dir without a database the first run goes alone; in one with a database,
// runs go at once.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DataHomeGate } from '../../src/manager/per-message/data-home-gate.js';
import { makeTempDir } from '../helpers/fixtures.js';

describe('DataHomeGate', () => {
  let temp: { dir: string; remove: () => Promise<void> };
  before(async () => {
    temp = await makeTempDir('gate');
  });
  after(async () => {
    await temp.remove();
  });

  it('holds concurrent runs until the first run in a fresh data dir has finished, even when it failed', async () => {
    const gate = new DataHomeGate();
    const home = path.join(temp.dir, 'fresh');
    const order: string[] = [];
    let finishFirst!: () => void;
    const first = gate.run(home, async () => {
      order.push('first started');
      await new Promise<void>((resolve) => (finishFirst = resolve));
      order.push('first ended');
      throw new Error('migration failed');
    });
    const others = [1, 2].map((i) => gate.run(home, () => Promise.resolve(order.push(`other ${i}`))));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(order, ['first started']);
    finishFirst();
    await assert.rejects(first, /migration failed/);
    await Promise.all(others);
    assert.deepEqual(order, ['first started', 'first ended', 'other 1', 'other 2']);
  });

  it('lets runs go at once where the database exists', async () => {
    const gate = new DataHomeGate();
    const home = path.join(temp.dir, 'ready');
    await mkdir(path.join(home, 'opencode'), { recursive: true });
    await writeFile(path.join(home, 'opencode', 'opencode.db'), '');
    let running = 0;
    let peak = 0;
    const task = async (): Promise<void> => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setImmediate(resolve));
      running -= 1;
    };
    await Promise.all([gate.run(home, task), gate.run(home, task), gate.run(home, task)]);
    assert.equal(peak, 3);
  });
});
