// Admission and ordering of turns: a session runs one turn at a time and its further messages wait
// in FIFO order (at most sessionQueueLimit); at most maxConcurrentTurns turns run across all sessions,
// and at most queueLimit messages wait in all. A waiting message can be aborted or time out.
import { OcpmError } from '../errors/errors.js';
import type { Config } from '../config/config.js';
import type { Metrics } from '../metrics/metrics.js';

/** The queue section of the configuration. */
export type SchedulerSettings = Config['queue'];

interface Waiter {
  readonly sessionId: string;
  readonly enqueuedAt: number;
  readonly grant: (release: () => void) => void;
  readonly fail: (error: Error) => void;
}

/** A rejection that tells the client when to come back (Retry-After). */
export class QueueRejectedError extends OcpmError {
  override readonly name = 'QueueRejectedError';
  constructor(
    code: 'queue_full' | 'session_queue_full',
    message: string,
    override readonly retryAfterSeconds: number,
  ) {
    super(code, message, { retryAfterSeconds });
  }
}

export class TurnScheduler {
  private readonly waiters: Waiter[] = [];
  private readonly runningSessions = new Set<string>();
  /** Moving average of turn wall time, for Retry-After. */
  private averageTurnMs = 5000;

  constructor(
    private readonly settings: SchedulerSettings,
    private readonly metrics: Pick<Metrics, 'rejected' | 'queueWait'>,
  ) {}

  get running(): number {
    return this.runningSessions.size;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  waitingFor(sessionId: string): number {
    return this.waiters.filter((w) => w.sessionId === sessionId).length;
  }

  private canStartNow(sessionId: string): boolean {
    return !this.runningSessions.has(sessionId) && this.runningSessions.size < this.settings.maxConcurrentTurns && this.waitingFor(sessionId) === 0;
  }

  /** Throws the 429 that acquire() would throw now, without queueing anything. */
  assertCanQueue(sessionId: string): void {
    if (this.canStartNow(sessionId)) return;
    if (this.waitingFor(sessionId) >= this.settings.sessionQueueLimit) {
      this.metrics.rejected.inc({ reason: 'session_queue_full' });
      throw new QueueRejectedError(
        'session_queue_full',
        `Session ${sessionId} already has ${this.settings.sessionQueueLimit} messages waiting`,
        this.retryAfterSeconds(),
      );
    }
    if (this.waiters.length >= this.settings.queueLimit) {
      this.metrics.rejected.inc({ reason: 'queue_full' });
      throw new QueueRejectedError('queue_full', `The queue is full (${this.settings.queueLimit} messages waiting)`, this.retryAfterSeconds());
    }
  }

  /** Waits for the session's turn; resolves with the function that gives the turn back. */
  async acquire(sessionId: string, signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted === true) throw new OcpmError('aborted', 'The message was aborted before it started');
    const now = Date.now();
    if (this.canStartNow(sessionId)) {
      this.metrics.queueWait.observe(0);
      return this.start(sessionId, now);
    }
    this.assertCanQueue(sessionId);
    return new Promise<() => void>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const at = this.waiters.indexOf(waiter);
        if (at !== -1) this.waiters.splice(at, 1);
      };
      const waiter: Waiter = {
        sessionId,
        enqueuedAt: now,
        grant: (release) => {
          cleanup();
          resolve(release);
        },
        fail: (error) => {
          cleanup();
          reject(error);
          // A waiter that left may have been blocking nobody, but the order may now let another start.
          this.dispatch();
        },
      };
      const timer = setTimeout(() => {
        this.metrics.rejected.inc({ reason: 'queue_timeout' });
        waiter.fail(new OcpmError('queue_timeout', `The message waited ${this.settings.queueTimeoutMs} ms in the queue without starting`));
      }, this.settings.queueTimeoutMs);
      const onAbort = (): void => waiter.fail(new OcpmError('aborted', 'The message was aborted before it started'));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private start(sessionId: string, startedAt: number): () => void {
    this.runningSessions.add(sessionId);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.runningSessions.delete(sessionId);
      this.averageTurnMs = this.averageTurnMs * 0.8 + (Date.now() - startedAt) * 0.2;
      this.dispatch();
    };
  }

  /** Starts the oldest waiters whose session is free, while there is capacity. */
  private dispatch(): void {
    for (let i = 0; i < this.waiters.length && this.runningSessions.size < this.settings.maxConcurrentTurns;) {
      const waiter = this.waiters[i]!;
      if (this.runningSessions.has(waiter.sessionId)) {
        i += 1;
        continue;
      }
      const now = Date.now();
      this.metrics.queueWait.observe((now - waiter.enqueuedAt) / 1000);
      waiter.grant(this.start(waiter.sessionId, now));
      // grant() removed the waiter at index i: look at the same index again.
    }
  }

  /** A rough "come back in" for 429s: the queue ahead divided by the capacity, times a turn's length. */
  private retryAfterSeconds(): number {
    const rounds = Math.ceil((this.waiters.length + 1) / this.settings.maxConcurrentTurns);
    return Math.min(300, Math.max(1, Math.ceil((rounds * this.averageTurnMs) / 1000)));
  }
}
