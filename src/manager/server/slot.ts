// One pool position: a data dir that outlives the instances started in it, the instance running
// there now, and the state turns wait on (a state change wakes them).
import type { SessionHome, SlotHome } from '../opencode-homes.js';
import { RestartPolicy, type RestartPolicySettings } from './restart-policy.js';
import type { ServerInstance, InstanceState } from './server-instance.js';

/** The one session an isolated slot serves: its instance is confined to that session's sandbox. */
export interface Tenant {
  readonly sessionId: string;
  readonly workspace: string;
  readonly home: SessionHome;
}

/** One pool position: a data dir that outlives the instances started in it. */
export class Slot {
  instance: ServerInstance | undefined;
  /** Isolated pools only: the session this slot serves now (undefined: idle, no process). */
  tenant: Tenant | undefined;
  /** When a turn last took or left this slot (isolated pools evict the least recently used). */
  lastUsed = 0;
  /** Turns that have been given this slot's instance and not finished (it is not evicted under them). */
  leases = 0;
  restarts = 0;
  lastError: string | null = null;
  recyclePending = false;
  /**
   * Set by a memory recycle until the next instance serves (or the slot fails): its turns wait for
   * that instance instead of running per-message, which would cost far more memory than the recycle
   * frees (an `opencode run` each).
   */
  awaitingReplacement = false;
  /** Sessions pinned to this slot (a tie-breaker when choosing a slot). */
  pinned = 0;
  readonly policy: RestartPolicy;
  private currentState: InstanceState;
  private changeWaiters: Array<() => void> = [];

  constructor(
    readonly index: number,
    readonly home: SlotHome,
    restarts: RestartPolicySettings,
    isolated: boolean,
  ) {
    this.currentState = isolated ? 'idle' : 'starting';
    this.policy = new RestartPolicy(restarts);
  }

  get id(): string {
    return `serve-${this.index}`;
  }

  get state(): InstanceState {
    return this.currentState;
  }

  set state(state: InstanceState) {
    this.currentState = state;
    if (state === 'ready' || state === 'failed' || state === 'stopped') this.awaitingReplacement = false;
    const waiters = this.changeWaiters;
    this.changeWaiters = [];
    for (const wake of waiters) wake();
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
    return this.tenant?.home.data ?? this.home.data;
  }

  get ready(): ServerInstance | undefined {
    const instance = this.instance;
    return this.state === 'ready' && instance?.state === 'ready' && !instance.processExited && !this.recyclePending ? instance : undefined;
  }
}
