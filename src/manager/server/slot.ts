// One pool position: a data dir that outlives the instances started in it, the instance running
// there now, and the state turns wait on (a state change wakes them). Its fields change only through
// the named transitions below, so every writer says what happened rather than which fields to set.
import type { SessionSandbox } from '../isolation/session-sandbox.js';
import type { SessionHome, SlotHome } from '../opencode-homes.js';
import { RestartPolicy, type RestartPolicySettings } from './restart-policy.js';
import type { ServerInstance, InstanceState } from './server-instance.js';

/** The one session an isolated slot serves: its instance is confined to that session's sandbox. */
export interface Tenant {
  readonly sessionId: string;
  readonly workspace: string;
  readonly home: SessionHome;
  readonly sandbox: SessionSandbox;
}

export class Slot {
  readonly policy: RestartPolicy;
  private current: ServerInstance | undefined;
  private servedSession: Tenant | undefined;
  private lastUse = 0;
  private holds = 0;
  private restartCount = 0;
  private error: string | null = null;
  private recycling = false;
  private waitForReplacement = false;
  private pins = 0;
  private currentState: InstanceState;
  private changeWaiters: Array<() => void> = [];

  /** `servesOneSession`: an isolated pool's slot, idle until given to a session, never started without one. */
  constructor(
    readonly index: number,
    readonly home: SlotHome,
    restarts: RestartPolicySettings,
    readonly servesOneSession: boolean,
  ) {
    this.currentState = servesOneSession ? 'idle' : 'starting';
    this.policy = new RestartPolicy(restarts);
  }

  get id(): string {
    return `serve-${this.index}`;
  }

  get state(): InstanceState {
    return this.currentState;
  }

  get instance(): ServerInstance | undefined {
    return this.current;
  }

  /** Isolated pools only: the session this slot serves now (undefined: idle, no process). */
  get tenant(): Tenant | undefined {
    return this.servedSession;
  }

  /** When a turn last took or left this slot (isolated pools evict the least recently used). */
  get lastUsed(): number {
    return this.lastUse;
  }

  /** Turns that have been given this slot's instance and not finished (it is not evicted under them). */
  get leases(): number {
    return this.holds;
  }

  get restarts(): number {
    return this.restartCount;
  }

  get lastError(): string | null {
    return this.error;
  }

  /** A replacement of the instance is under way: no new turn is given it. */
  get recyclePending(): boolean {
    return this.recycling;
  }

  /**
   * Set by a memory recycle or an operator's restart until the next instance serves (or the slot
   * fails): its turns wait for that instance instead of running per-message, which would cost far
   * more memory than the recycle frees (an `opencode run` each).
   */
  get awaitingReplacement(): boolean {
    return this.waitForReplacement;
  }

  /** Sessions pinned to this slot (a tie-breaker when choosing a slot). */
  get pinned(): number {
    return this.pins;
  }

  /** Resolves at the slot's next state change. */
  nextChange(): Promise<void> {
    return new Promise((resolve) => this.changeWaiters.push(resolve));
  }

  /**
   * The data dir opencode uses in this slot, in server mode and in per-message fallback alike: the
   * tenant's own in an isolated pool.
   */
  get dataHome(): string {
    return this.servedSession?.home.data ?? this.home.data;
  }

  get ready(): ServerInstance | undefined {
    const instance = this.current;
    return this.currentState === 'ready' && instance?.state === 'ready' && !instance.processExited && !this.recycling ? instance : undefined;
  }

  // Transitions of an isolated slot's tenancy.

  /** Given to a session: starts over for it. Returns its previous session's instance, to be stopped. */
  assign(tenant: Tenant): ServerInstance | undefined {
    const previous = this.current;
    this.servedSession = tenant;
    this.current = undefined;
    this.error = null;
    this.restartCount = 0;
    this.policy.reset();
    this.enter('starting');
    return previous;
  }

  /** Freed (its session deleted, idle or moved): returns the instance to be stopped. */
  free(): ServerInstance | undefined {
    const previous = this.current;
    this.servedSession = undefined;
    this.current = undefined;
    this.enter('idle');
    return previous;
  }

  /** A turn takes the slot's instance; the returned function (idempotent) gives it back. */
  hold(): () => void {
    this.holds += 1;
    this.lastUse = Date.now();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds -= 1;
      this.lastUse = Date.now();
    };
  }

  /** A shared pool's session was pinned here, or went away. */
  pin(): void {
    this.pins += 1;
  }

  unpin(): void {
    this.pins = Math.max(0, this.pins - 1);
  }

  // Transitions of the instance's life (the supervisor's).

  /** An isolated slot without a session: nothing runs. */
  markIdle(): void {
    this.enter('idle');
  }

  beginStart(): void {
    this.recycling = false;
    this.enter('starting');
  }

  /** The instance now starting here (a start that finds another one attached was superseded). */
  attach(instance: ServerInstance): void {
    this.current = instance;
  }

  markReady(): void {
    this.enter('ready');
  }

  /** A start failed or the instance ended unexpectedly: why, for the status. */
  recordFailure(why: string): void {
    this.error = why;
  }

  markBackoff(): void {
    this.enter('backoff');
  }

  /** Crash-looping: turns run per-message until a later retry. */
  markFailed(): void {
    this.enter('failed');
  }

  countRestart(): void {
    this.restartCount += 1;
  }

  /**
   * A live instance is being replaced: no new turn is given it. `waitForIt`: its turns wait for the
   * next instance rather than run per-message. `why` (undefined: an operator's restart) is kept as the
   * last error.
   */
  beginReplacement(waitForIt: boolean, why?: string): void {
    this.recycling = true;
    this.waitForReplacement = waitForIt;
    if (why !== undefined) this.error = why;
  }

  markStopping(): void {
    this.enter('stopping');
  }

  /** An operator's restart stopped the old instance: the new one starts with a clean record. */
  restartedByOperator(): void {
    this.restartCount += 1;
    this.error = null;
  }

  markStopped(): void {
    this.enter('stopped');
  }

  private enter(state: InstanceState): void {
    this.currentState = state;
    if (state === 'ready' || state === 'failed' || state === 'stopped') this.waitForReplacement = false;
    const waiters = this.changeWaiters;
    this.changeWaiters = [];
    for (const wake of waiters) wake();
  }
}
