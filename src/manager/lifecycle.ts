// The manager's lifecycle: its state (created → starting → ready | unavailable → draining → stopping
// → stopped), the one mapping from a state to the error a caller gets (the API and /readyz both use
// it), and the count of accepted messages that a drain waits for.
import { OcpmError } from '../errors/errors.js';
import type { ErrorCode } from '../errors/codes.js';

export { MANAGER_STATES, type ManagerState } from '../contracts/vocabulary.js';
import type { ManagerState } from '../contracts/vocabulary.js';

/** Why a state takes no messages: the error code and message callers get (undefined: it takes them). */
export function stateRejection(state: ManagerState, unavailableReason: string | null): { code: ErrorCode; message: string } | undefined {
  switch (state) {
    case 'ready':
      return undefined;
    case 'unavailable':
      return { code: 'opencode_unavailable', message: `opencode is unavailable: ${unavailableReason ?? 'unknown reason'}` };
    case 'draining':
    case 'stopping':
      return { code: 'draining', message: `the service is shutting down (${state})` };
    default:
      return { code: 'not_ready', message: `the process manager is ${state}` };
  }
}

export class Lifecycle {
  private current: ManagerState = 'created';
  private reason: string | null = null;
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];

  get state(): ManagerState {
    return this.current;
  }

  /** Moves to `next`; `reason` says why opencode is unavailable. */
  enter(next: ManagerState, reason: string | null = null): void {
    this.current = next;
    if (next === 'unavailable') this.reason = reason;
  }

  get unavailableReason(): string | null {
    return this.current === 'unavailable' ? this.reason : null;
  }

  /** Whether a drain or stop has begun. */
  get shuttingDown(): boolean {
    return this.current === 'draining' || this.current === 'stopping' || this.current === 'stopped';
  }

  rejection(): { code: ErrorCode; message: string } | undefined {
    return stateRejection(this.current, this.reason);
  }

  /** Throws the state's rejection as an OcpmError. */
  assertReady(): void {
    const rejection = this.rejection();
    if (rejection !== undefined) throw new OcpmError(rejection.code, rejection.message);
  }

  /** Accepted messages not yet finished (waiting or running). */
  get pending(): number {
    return this.inFlight;
  }

  /** Counts one accepted message until the returned function is called. */
  accept(): () => void {
    this.inFlight += 1;
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      this.inFlight -= 1;
      if (this.inFlight === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    };
  }

  /** Resolves when no accepted message is left or `timeoutMs` passed; true when none is left. */
  async settle(timeoutMs: number): Promise<boolean> {
    if (this.inFlight === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    await Promise.race([idle, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    return this.inFlight === 0;
  }
}
