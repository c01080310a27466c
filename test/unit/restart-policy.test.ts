// RestartPolicy: capped exponential backoff, a crash-loop limit of maxRestarts within a sliding
// window, and reset. Time is passed in (or faked through Date for the default), never waited for.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RestartPolicy, type RestartDecision, type RestartPolicySettings } from '../../src/manager/server/restart-policy.js';

const settings: RestartPolicySettings = { maxRestarts: 3, restartWindowMs: 10_000, restartBackoffMs: 100, restartBackoffMaxMs: 1_000 };

function policy(overrides: Partial<RestartPolicySettings> = {}): RestartPolicy {
  return new RestartPolicy({ ...settings, ...overrides });
}

function delayOf(decision: RestartDecision): number {
  assert.equal(decision.action, 'restart', `expected a restart, got ${JSON.stringify(decision)}`);
  return decision.action === 'restart' ? decision.delayMs : Number.NaN;
}

describe('RestartPolicy', () => {
  it('doubles the delay from restartBackoffMs with each restart in the window, up to restartBackoffMaxMs', () => {
    const p = policy({ maxRestarts: 100 });
    const delays = Array.from({ length: 7 }, (_, i) => delayOf(p.next(i)));
    assert.deepEqual(delays, [100, 200, 400, 800, 1_000, 1_000, 1_000]);
  });

  it('keeps the delay at the cap however many restarts the window holds', () => {
    const p = policy({ maxRestarts: 2_000, restartWindowMs: 1_000_000 });
    let last = 0;
    for (let i = 0; i < 1_500; i += 1) last = delayOf(p.next(i));
    assert.equal(last, 1_000);
  });

  it('allows maxRestarts restarts within the window and then fails, without recording the failure', () => {
    const p = policy();
    assert.equal(delayOf(p.next(0)), 100);
    assert.equal(delayOf(p.next(1_000)), 200);
    assert.equal(delayOf(p.next(2_000)), 400);
    assert.equal(p.count(2_000), 3);
    assert.deepEqual(p.next(3_000), { action: 'fail' });
    assert.deepEqual(p.next(9_999), { action: 'fail' });
    assert.equal(p.count(9_999), 3, 'a refused restart is not counted');
  });

  it('slides the window: a restart stops counting once it is restartWindowMs old', () => {
    const p = policy();
    p.next(0);
    p.next(1_000);
    p.next(2_000);
    assert.equal(p.count(9_999), 3);
    assert.equal(p.count(10_000), 2);
    // The restart at 0 has left the window: one more is allowed, backed off for the two still in it.
    assert.equal(delayOf(p.next(10_000)), 400);
    assert.deepEqual(p.next(10_999), { action: 'fail' });
    // The restart at 1000 leaves next.
    assert.equal(delayOf(p.next(11_000)), 400);
    assert.equal(p.count(11_000), 3);
  });

  it('returns to the base delay after a quiet window', () => {
    const p = policy({ maxRestarts: 10 });
    for (const at of [0, 10, 20, 30]) p.next(at);
    assert.equal(delayOf(p.next(40)), 1_000);
    assert.equal(p.count(40 + 10_000), 0);
    assert.equal(delayOf(p.next(40 + 10_000)), 100);
  });

  it('does not count restarts by asking: count() is read-only', () => {
    const p = policy();
    p.next(0);
    for (let i = 0; i < 5; i += 1) assert.equal(p.count(1), 1);
    assert.equal(delayOf(p.next(2)), 200);
  });

  it('reset() forgets every restart: a failed policy restarts again at the base delay', () => {
    const p = policy();
    p.next(0);
    p.next(1);
    p.next(2);
    assert.deepEqual(p.next(3), { action: 'fail' });
    p.reset();
    assert.equal(p.count(4), 0);
    assert.equal(delayOf(p.next(4)), 100);
    assert.equal(delayOf(p.next(5)), 200);
  });

  it('reads the clock when no time is given', (t) => {
    // t.mock is restored when the test ends.
    t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
    const p = policy();
    assert.equal(delayOf(p.next()), 100);
    t.mock.timers.tick(5_000);
    assert.equal(delayOf(p.next()), 200);
    assert.equal(delayOf(p.next()), 400);
    assert.deepEqual(p.next(), { action: 'fail' });
    assert.equal(p.count(), 3);
    t.mock.timers.tick(5_000);
    assert.equal(p.count(), 2, 'the first restart is now restartWindowMs old');
    assert.equal(delayOf(p.next()), 400);
  });
});
