// How many `opencode serve` processes may start at once (OCPM_MAX_CONCURRENT_STARTS). A start is
// seconds of CPU: twenty at once on two cores starve each other until none gets ready within its
// timeout. Starts past the limit wait here in arrival order.

export interface StartQueueStatus {
  /** OCPM_MAX_CONCURRENT_STARTS. */
  readonly limit: number;
  /** Servers starting now (spawned, not yet healthy). */
  readonly starting: number;
  /** Starts waiting for their turn. */
  readonly waiting: number;
  /** How long the oldest waiting start has waited, in ms (0 when none waits). */
  readonly oldestWaitMs: number;
}

interface Waiter {
  readonly since: number;
  readonly admit: () => void;
}

export class StartGate {
  private running = 0;
  private readonly waiters: Waiter[] = [];

  constructor(private readonly limit: number) {}

  /**
   * Resolves with the function that ends this start (call it once the server is healthy or its start
   * failed) when the start may run; resolves undefined when `signal` aborts first (the pool closed).
   */
  enter(signal: AbortSignal): Promise<(() => void) | undefined> {
    if (signal.aborted) return Promise.resolve(undefined);
    if (this.running < this.limit) {
      this.running += 1;
      return Promise.resolve(this.exit());
    }
    return new Promise((resolve) => {
      const waiter: Waiter = {
        since: Date.now(),
        admit: () => {
          signal.removeEventListener('abort', abandon);
          this.running += 1;
          resolve(this.exit());
        },
      };
      const abandon = (): void => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        resolve(undefined);
      };
      signal.addEventListener('abort', abandon, { once: true });
      this.waiters.push(waiter);
    });
  }

  status(now = Date.now()): StartQueueStatus {
    const oldest = this.waiters[0];
    return { limit: this.limit, starting: this.running, waiting: this.waiters.length, oldestWaitMs: oldest === undefined ? 0 : now - oldest.since };
  }

  private exit(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.running -= 1;
      this.waiters.shift()?.admit();
    };
  }
}
