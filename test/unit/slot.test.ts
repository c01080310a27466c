// Slot: one pool position whose data dir outlives its instances, whose state changes (named
// transitions) wake waiting turns, and whose data dir is its tenant's own in an isolated pool.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configDefaults } from '../../src/config/config.js';
import { sessionHome, slotHome } from '../../src/manager/opencode-homes.js';
import type { SessionSandbox } from '../../src/manager/isolation/session-sandbox.js';
import { Slot } from '../../src/manager/server/slot.js';

const slot = (isolated = false): Slot => new Slot(3, slotHome('/data', 3), configDefaults('/').pool, isolated);

describe('Slot', () => {
  it('starts idle in an isolated pool and starting in a shared one', () => {
    assert.equal(slot(true).state, 'idle');
    assert.equal(slot(false).state, 'starting');
    assert.equal(slot().id, 'serve-3');
  });

  it('keeps its data dir under OCPM_DATA_DIR/opencode/slot-N, the one per-message runs of its sessions use too', () => {
    assert.equal(slot().dataHome, '/data/opencode/slot-3/data');
    assert.equal(slot().home.dir, '/data/opencode/slot-3');
  });

  it("uses its tenant session's own data dir while it serves one (isolated)", () => {
    const s = slot(true);
    const home = sessionHome('/data', 'ses-1');
    // The sandbox is not used by the slot itself: it is what the supervisor starts the tenant's server in.
    s.assign({ sessionId: 'ses-1', workspace: '/ws/1', home, sandbox: {} as SessionSandbox });
    assert.equal(s.dataHome, home.data);
    assert.equal(s.state, 'starting');
    s.free();
    assert.equal(s.dataHome, '/data/opencode/slot-3/data');
    assert.equal(s.state, 'idle');
  });

  it('wakes every waiter at its next state change, and only then', async () => {
    const s = slot();
    let woken = 0;
    const waits = [s.nextChange().then(() => (woken += 1)), s.nextChange().then(() => (woken += 1))];
    await Promise.resolve();
    assert.equal(woken, 0);
    s.markBackoff();
    await Promise.all(waits);
    assert.equal(woken, 2);
  });

  it('stops waiting for a memory replacement once the slot is ready, failed or stopped', () => {
    const ends = { ready: (s: Slot) => s.markReady(), failed: (s: Slot) => s.markFailed(), stopped: (s: Slot) => s.markStopped() };
    for (const [end, enter] of Object.entries(ends)) {
      const s = slot();
      s.beginReplacement(true, 'process tree resident memory above the limit');
      s.beginStart();
      assert.equal(s.awaitingReplacement, true);
      assert.equal(s.recyclePending, false, 'a start ends the recycle');
      enter(s);
      assert.equal(s.awaitingReplacement, false, end);
      assert.equal(s.lastError, 'process tree resident memory above the limit');
    }
  });

  it('has no ready instance without one', () => {
    const s = slot();
    s.markReady();
    assert.equal(s.ready, undefined);
  });
});
