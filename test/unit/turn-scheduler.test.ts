// TurnScheduler: one turn per session in FIFO order, a global cap on running turns, queue limits with
// Retry-After, and waiters that time out or are aborted.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OcpmError } from '../../src/errors/errors.js';
import { QueueRejectedError, TurnScheduler } from '../../src/manager/turn-scheduler.js';
import { createMetrics } from '../../src/metrics/metrics.js';

function scheduler(overrides: Partial<ConstructorParameters<typeof TurnScheduler>[0]> = {}) {
  const metrics = createMetrics({ collectDefault: false });
  const s = new TurnScheduler({ maxConcurrentTurns: 2, queueLimit: 10, sessionQueueLimit: 3, queueTimeoutMs: 60000, ...overrides }, metrics);
  return { s, metrics };
}

describe('TurnScheduler', () => {
  it('runs at most maxConcurrentTurns turns, one per session, and starts waiters in FIFO order per session', async () => {
    const { s } = scheduler({ maxConcurrentTurns: 2 });
    const order: string[] = [];
    let running = 0;
    let peak = 0;
    const jobs = ['a', 'a', 'b', 'c', 'a', 'b', 'c', 'd'].map((session, index) =>
      s.acquire(session).then(async (release) => {
        running += 1;
        peak = Math.max(peak, running);
        order.push(`${session}${index}`);
        await new Promise((resolve) => setImmediate(resolve));
        running -= 1;
        release();
      }),
    );
    await Promise.all(jobs);
    assert.equal(peak, 2);
    const perSession = (name: string): string[] => order.filter((entry) => entry.startsWith(name));
    assert.deepEqual(perSession('a'), ['a0', 'a1', 'a4']);
    assert.deepEqual(perSession('b'), ['b2', 'b5']);
    assert.deepEqual(perSession('c'), ['c3', 'c6']);
    assert.equal(s.running, 0);
    assert.equal(s.waiting, 0);
  });

  it('refuses past the session queue limit and the global queue limit, with a Retry-After', async () => {
    const { s, metrics } = scheduler({ maxConcurrentTurns: 1, queueLimit: 2, sessionQueueLimit: 1 });
    const release = await s.acquire('a');
    const queuedA = s.acquire('a');
    await assert.rejects(
      s.acquire('a'),
      (error: unknown) => error instanceof QueueRejectedError && error.code === 'session_queue_full' && error.retryAfterSeconds >= 1,
    );
    const queuedB = s.acquire('b');
    await assert.rejects(s.acquire('c'), (error: unknown) => error instanceof QueueRejectedError && error.code === 'queue_full');
    assert.throws(
      () => s.assertCanQueue('d'),
      (error: unknown) => error instanceof QueueRejectedError && error.code === 'queue_full',
    );
    release();
    (await queuedA)();
    (await queuedB)();
    const text = await metrics.registry.metrics();
    assert.match(text, /opencode_manager_rejected_total\{reason="queue_full"\} 2/);
    assert.match(text, /opencode_manager_rejected_total\{reason="session_queue_full"\} 1/);
  });

  it('drops a waiter that times out or is aborted, and the next one starts', async () => {
    const { s, metrics } = scheduler({ maxConcurrentTurns: 1, queueTimeoutMs: 50 });
    const release = await s.acquire('a');
    await assert.rejects(s.acquire('b'), (error: unknown) => error instanceof OcpmError && error.code === 'queue_timeout');
    const controller = new AbortController();
    const aborted = s.acquire('c', controller.signal);
    controller.abort();
    await assert.rejects(aborted, (error: unknown) => error instanceof OcpmError && error.code === 'aborted');
    assert.equal(s.waiting, 0);
    release();
    const next = await s.acquire('d');
    next();
    const text = await metrics.registry.metrics();
    assert.match(text, /opencode_manager_rejected_total\{reason="queue_timeout"\} 1/);
    assert.match(text, /opencode_manager_queue_wait_seconds_count 2/);
  });
});
