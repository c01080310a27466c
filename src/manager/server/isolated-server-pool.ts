// An isolated pool: each slot serves one session at a time, its server confined to that session's
// sandbox and home. Slots start idle and are given to sessions on demand (a free one, else the least
// recently used one no turn holds, whose server is stopped); a session idle for
// OCPM_SESSION_IDLE_STOP_MS loses its server (memory follows active sessions, not registered ones).
// Under OCPM_MEMORY_LIMIT_MB a new server starts only where it fits: else the least recently used
// server no turn holds is stopped for it, else the turn waits or runs per-message
// (OCPM_WHEN_MEMORY_FULL).
import type { Logger } from '../../logging/logger.js';
import type { Metrics } from '../../metrics/metrics.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { inBackground } from '../../util/housekeeping.js';
import type { SessionSandbox } from '../isolation/session-sandbox.js';
import type { SessionHome } from '../opencode-homes.js';
import type { MemoryRoom, MemoryStatus } from './memory-room.js';
import type { PoolConfig, PoolRuntime } from './pool-config.js';
import type { ServerInstance } from './server-instance.js';
import { ServerPool, type Lease } from './server-pool.js';
import { chooseIsolatedSlot } from './slot-choice.js';
import type { Slot, Tenant } from './slot.js';

/** A slot without a session's running server: nothing there counts against the memory limit. */
const NO_PROCESS_STATES: readonly string[] = ['idle', 'stopped', 'failed'];

export class IsolatedServerPool extends ServerPool {
  /** Servers whose start footprint was recorded. */
  private readonly measured = new WeakSet<ServerInstance>();

  constructor(
    config: PoolConfig,
    runtime: PoolRuntime,
    private readonly sandbox: SessionSandbox,
    /** Whether the session runs a turn, has one queued or waits on a person: its server never stops then. */
    private readonly sessionInUse: (sessionId: string) => boolean,
    private readonly memory: MemoryRoom,
    metrics: Metrics,
    logger: Logger,
  ) {
    super(config, runtime, metrics, logger, true);
  }

  /** No server runs before a session needs one. */
  start(): Promise<void> {
    this.startProbes();
    return Promise.resolve();
  }

  /** An instance is ready, or a slot can start one. */
  canServe(): boolean {
    return this.anyReady() || this.slots.some((slot) => slot.state !== 'failed');
  }

  /** The slot serving this session now, if any. */
  slotOfSession(sessionId: string): Slot | undefined {
    return this.slots.find((slot) => slot.tenant?.sessionId === sessionId);
  }

  /**
   * The session's instance, starting one in a free slot (or in the least recently used slot no turn
   * holds, whose server is stopped) when it has none. Undefined when every slot is held by running
   * turns, no memory is left and none can be freed (OCPM_WHEN_MEMORY_FULL=per-message, or a warm-up:
   * `mayWait` false), or the session's server cannot serve: the turn then runs per-message.
   */
  async leaseFor(
    session: { id: string; workspace: string; home: SessionHome },
    options: { signal?: AbortSignal; mayWait: boolean },
  ): Promise<Lease | undefined> {
    const { signal } = options;
    let slot = this.slotOfSession(session.id);
    if (slot !== undefined && slot.tenant?.workspace !== session.workspace) {
      await this.vacate(slot, 'the session moved to another workspace');
      slot = undefined;
    }
    slot ??= await this.bindWithin({ sessionId: session.id, workspace: session.workspace, home: session.home, sandbox: this.sandbox }, options);
    if (slot === undefined) return undefined;
    const release = slot.hold();
    try {
      const instance = await this.acquire(slot, signal);
      if (instance === undefined) release();
      return instance === undefined ? undefined : { instance, release };
    } catch (error) {
      release();
      throw error;
    }
  }

  /** A deleted (or reset) session's server stops. */
  async releaseSession(sessionId: string, why = 'its session was deleted'): Promise<void> {
    const slot = this.slotOfSession(sessionId);
    if (slot !== undefined) await this.vacate(slot, why);
  }

  /** An isolated server serves one session: idle, it is stopped rather than its directory released. */
  protected override async probeSlot(slot: Slot): Promise<void> {
    if (this.idleTooLong(slot)) {
      this.metrics.serverIdleStops.inc();
      await this.vacate(slot, 'its session was idle');
      return;
    }
    await super.probeSlot(slot);
    const instance = slot.ready;
    if (instance !== undefined && instance.startRssBytes > 0 && !this.measured.has(instance)) {
      this.measured.add(instance);
      this.memory.recordStartFootprint(instance.startRssBytes);
    }
  }

  /** Under OCPM_MEMORY_LIMIT_MB: the limit, what is held, a new server's estimate, turns waiting. */
  override memoryStatus(): MemoryStatus | undefined {
    return this.memory.status(this.liveServers());
  }

  /** Each running (or starting) server's last measured tree; 0 for one not measured yet. */
  private liveServers(): number[] {
    return this.slots.filter((slot) => slot.tenant !== undefined && !NO_PROCESS_STATES.includes(slot.state)).map((slot) => slot.instance?.rssBytes ?? 0);
  }

  /**
   * A slot for a session without one, minding memory: where one more server does not fit, only a
   * slot whose server can be stopped for it; where none can, the turn waits for memory (re-checked
   * at each probe interval, until its signal ends the wait) or runs per-message.
   */
  private async bindWithin(tenant: Tenant, options: { signal?: AbortSignal; mayWait: boolean }): Promise<Slot | undefined> {
    let doneWaiting: (() => void) | undefined;
    try {
      for (;;) {
        const fits = this.memory.fitsOneMore(this.liveServers());
        const slot = this.bind(tenant, fits);
        if (slot !== undefined || fits) {
          if (slot !== undefined && !fits) this.metrics.memoryFull.inc({ action: 'evicted' });
          return slot;
        }
        if (!options.mayWait) return undefined;
        if (this.config.whenMemoryFull === 'per-message') {
          this.metrics.memoryFull.inc({ action: 'per_message' });
          this.logger.warn('No memory for another server (OCPM_MEMORY_LIMIT_MB) and none can stop: the turn runs per-message', { sessionId: tenant.sessionId });
          return undefined;
        }
        if (doneWaiting === undefined) {
          this.metrics.memoryFull.inc({ action: 'waited' });
          this.logger.warn('No memory for another server (OCPM_MEMORY_LIMIT_MB) and none can stop: the turn waits', { sessionId: tenant.sessionId });
          doneWaiting = this.memory.waiting();
        }
        if (options.signal?.aborted === true || this.supervisor.isClosed) return undefined;
        await sleep(this.config.healthIntervalMs, undefined, { signal: options.signal }).catch(() => undefined);
      }
    } finally {
      doneWaiting?.();
    }
  }

  /** Ready, nothing holds it (no turn, no warm-up, nothing queued or asked) and unused for OCPM_SESSION_IDLE_STOP_MS. */
  private idleTooLong(slot: Slot): boolean {
    const { sessionIdleStopMs } = this.config;
    const instance = slot.instance;
    const tenant = slot.tenant;
    if (sessionIdleStopMs === 0 || tenant === undefined || instance === undefined) return false;
    if (slot.state !== 'ready' || slot.recyclePending || slot.leases > 0 || instance.activeTurns > 0) return false;
    return Date.now() - slot.lastUsed > sessionIdleStopMs && !this.sessionInUse(tenant.sessionId);
  }

  /** Gives a slot to a session: a free one (only where one more server `fits`), else the least recently used one no turn holds. */
  private bind(tenant: Tenant, fits: boolean): Slot | undefined {
    const index = chooseIsolatedSlot(
      this.slots
        // Without room, only a slot whose running server stops for it frees what the new one needs.
        .filter((slot) => fits || (slot.tenant !== undefined && !NO_PROCESS_STATES.includes(slot.state)))
        .map((slot) => ({
          index: slot.index,
          occupied: slot.tenant !== undefined,
          unheld: slot.leases === 0 && (slot.instance?.activeTurns ?? 0) === 0,
          state: slot.state,
          recyclePending: slot.recyclePending,
          lastUsed: slot.lastUsed,
        })),
    );
    if (index === undefined) return undefined;
    const slot = this.slots[index]!;
    if (slot.tenant !== undefined) {
      this.metrics.serverEvictions.inc();
      this.logger.info("Server slot given to another session; its previous session's server stops", { instance: slot.id });
    }
    const previous = slot.assign(tenant);
    inBackground(
      this.housekeeping,
      'supervisor',
      async () => {
        await previous?.stop('its slot was given to another session');
        if (!this.supervisor.isClosed && slot.tenant === tenant) await this.supervisor.startSlot(slot);
      },
      { instance: slot.id },
    );
    return slot;
  }

  /** Stops the session's server and frees its slot (session deleted, idle, moved). */
  private async vacate(slot: Slot, why: string): Promise<void> {
    const instance = slot.free();
    this.logger.info('Server slot freed', { instance: slot.id, why });
    await instance?.stop(why);
  }
}
