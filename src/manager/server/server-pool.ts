// A pool of slots, each running one supervised `opencode serve` instance (see PoolSupervisor) with
// its own data dir, kept across restarts so the slot's opencode sessions survive them. Shared pools
// pin each session to a slot; isolated pools give each slot to one session at a time. Turns acquire a
// slot's instance here, waiting (bounded) while it starts or is replaced.
import { OcpmError } from '../../errors/errors.js';
import { redactPaths } from '../../util/redact.js';
import type { Logger } from '../../logging/logger.js';
import type { Metrics } from '../../metrics/metrics.js';
import { inBackground, tolerate, type Housekeeping } from '../../util/housekeeping.js';
import { slotHome, type SessionHome } from '../opencode-homes.js';
import type { DisposalReason, PoolConfig, PoolRuntime } from './pool-config.js';
import { PoolSupervisor } from './pool-supervisor.js';
import type { HealthResult, InstanceState, ServerInstance } from './server-instance.js';
import { chooseIsolatedSlot, chooseSharedSlot } from './slot-choice.js';
import { Slot, type Tenant } from './slot.js';

export { Slot, type Tenant } from './slot.js';
export { RESTART_REASONS, type PoolConfig, type PoolRuntime, type RestartReason } from './pool-config.js';

/** A turn's hold on an instance: while held, an isolated pool does not give the slot away. */
export interface Lease {
  readonly instance: ServerInstance;
  release(): void;
}

export interface InstanceStatus {
  id: string;
  pid: number | null;
  port: number | null;
  state: InstanceState;
  startedAt: number | null;
  restarts: number;
  lastError: string | null;
  lastHealth: { ok: boolean; latencyMs: number; failureClass: string | null } | null;
  rssBytes: number;
  activeTurns: number;
  directories: number;
}

export class ServerPool {
  readonly slots: Slot[];
  private readonly logger: Logger;
  private readonly supervisor: PoolSupervisor;
  private readonly housekeeping: Housekeeping;
  private healthTimer: NodeJS.Timeout | undefined;
  private probing = false;
  /** Operator restarts under way, per slot. */
  private readonly restarting = new Map<Slot, Promise<void>>();

  constructor(
    private readonly config: PoolConfig,
    private readonly runtime: PoolRuntime,
    private readonly metrics: Metrics,
    logger: Logger,
  ) {
    this.logger = logger.child({ component: 'server-pool' });
    this.housekeeping = { logger: this.logger, metrics };
    this.slots = Array.from({ length: runtime.size }, (_, i) => new Slot(i, slotHome(runtime.dataDir, i), config, runtime.sandbox !== undefined));
    this.supervisor = new PoolSupervisor(config, runtime, metrics, this.logger, (slot, why) => this.vacate(slot, why));
  }

  get isolated(): boolean {
    return this.runtime.sandbox !== undefined;
  }

  /** Starts every slot (an isolated pool's start idle); resolves when each is ready or has failed its first start. */
  async start(): Promise<void> {
    if (!this.isolated) await Promise.all(this.slots.map((slot) => this.supervisor.startSlot(slot)));
    this.healthTimer = setInterval(() => inBackground(this.housekeeping, 'pool_probe', () => this.probeAll()), this.config.healthIntervalMs);
    this.healthTimer.unref();
  }

  async stop(): Promise<void> {
    this.supervisor.close();
    clearInterval(this.healthTimer);
    await Promise.allSettled(this.slots.map((slot) => slot.instance?.stop('the service is shutting down') ?? Promise.resolve()));
    for (const slot of this.slots) slot.state = 'stopped';
  }

  killNow(): void {
    for (const slot of this.slots) slot.instance?.killNow();
  }

  anyReady(): boolean {
    return this.slots.some((slot) => slot.ready !== undefined);
  }

  /** Whether server mode can serve now: an instance is ready, or an isolated slot can start one. */
  canServe(): boolean {
    return this.anyReady() || (this.isolated && this.slots.some((slot) => slot.state !== 'failed'));
  }

  /** Isolated pools: the slot serving this session now, if any. */
  slotOfSession(sessionId: string): Slot | undefined {
    return this.slots.find((slot) => slot.tenant?.sessionId === sessionId);
  }

  /**
   * Isolated pools: the session's instance, starting one in a free slot (or in the least recently
   * used slot no turn holds, whose server is stopped) when it has none. Undefined when every slot is
   * held by running turns or the session's server cannot serve (the turn then runs per-message).
   */
  async leaseFor(session: { id: string; workspace: string; home: SessionHome }, signal?: AbortSignal): Promise<Lease | undefined> {
    let slot = this.slotOfSession(session.id);
    if (slot !== undefined && slot.tenant?.workspace !== session.workspace) {
      await this.vacate(slot, 'the session moved to another workspace');
      slot = undefined;
    }
    slot ??= this.bind({ sessionId: session.id, workspace: session.workspace, home: session.home });
    if (slot === undefined) return undefined;
    slot.leases += 1;
    slot.lastUsed = Date.now();
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      slot.leases -= 1;
      slot.lastUsed = Date.now();
    };
    try {
      const instance = await this.acquire(slot, signal);
      if (instance === undefined) release();
      return instance === undefined ? undefined : { instance, release };
    } catch (error) {
      release();
      throw error;
    }
  }

  /** Gives a slot to a session: a free one, else the least recently used one no turn holds. */
  private bind(tenant: Tenant): Slot | undefined {
    const index = chooseIsolatedSlot(
      this.slots.map((slot) => ({
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
    const previous = slot.instance;
    if (slot.tenant !== undefined) {
      this.metrics.serverEvictions.inc();
      this.logger.info("Server slot given to another session; its previous session's server stops", { instance: slot.id });
    }
    slot.tenant = tenant;
    slot.instance = undefined;
    slot.lastError = null;
    slot.restarts = 0;
    slot.policy.reset();
    slot.state = 'starting';
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

  /** Isolated pools: stops the session's server and frees its slot (session deleted, idle, moved). */
  async vacate(slot: Slot, why: string): Promise<void> {
    const instance = slot.instance;
    slot.tenant = undefined;
    slot.instance = undefined;
    slot.state = 'idle';
    this.logger.info('Server slot freed', { instance: slot.id, why });
    await instance?.stop(why);
  }

  /** Isolated pools: a deleted (or reset) session's server stops. */
  async releaseSession(sessionId: string, why = 'its session was deleted'): Promise<void> {
    const slot = this.slotOfSession(sessionId);
    if (slot !== undefined) await this.vacate(slot, why);
  }

  /** The slot for a session's first use: a ready one with the fewest running turns, then the fewest sessions. */
  pickSlot(): Slot {
    const index = chooseSharedSlot(
      this.slots.map((slot) => ({ index: slot.index, ready: slot.ready !== undefined, activeTurns: slot.instance?.activeTurns ?? 0, pinned: slot.pinned })),
    );
    const slot = this.slots[index]!;
    slot.pinned += 1;
    return slot;
  }

  /** A pinned session went away. */
  unpin(index: number): void {
    const slot = this.slotFor(index);
    slot.pinned = Math.max(0, slot.pinned - 1);
  }

  /**
   * The slot's instance when it can serve: at once when ready; after waiting (bounded) while it is
   * starting or being replaced after a memory recycle; undefined when it is backing off after a
   * crash, unhealthy, failed, or the wait ran out (the caller falls back to per-message).
   */
  async acquire(slot: Slot, signal?: AbortSignal): Promise<ServerInstance | undefined> {
    if (slot.ready !== undefined) return this.confirmed(slot.ready);
    const { restartDrainMs, serverStartTimeoutMs } = this.config;
    const deadline = Date.now() + (slot.awaitingReplacement ? restartDrainMs + serverStartTimeoutMs : serverStartTimeoutMs);
    while (slot.ready === undefined && (slot.awaitingReplacement || slot.state === 'starting') && Date.now() < deadline && signal?.aborted !== true) {
      const stop = AbortSignal.any([AbortSignal.timeout(deadline - Date.now()), ...(signal === undefined ? [] : [signal])]);
      await Promise.race([slot.nextChange(), new Promise((resolve) => stop.addEventListener('abort', resolve, { once: true }))]);
    }
    return slot.ready === undefined ? undefined : this.confirmed(slot.ready);
  }

  /**
   * The instance itself, unless a turn's connection to it broke: then only after a health check
   * passes. A crashed server's sockets can fail before its exit is seen, and a message sent to it in
   * that moment would be lost; this way it runs per-message instead.
   */
  private async confirmed(instance: ServerInstance): Promise<ServerInstance | undefined> {
    if (!instance.suspect) return instance;
    const health = await this.supervisor.checkHealth(instance);
    if (!health.ok) {
      this.logger.warn('Health check after a broken connection failed; this turn runs per-message', {
        instance: `serve-${instance.slot}`,
        failureClass: health.failureClass,
      });
      return undefined;
    }
    return instance.processExited || instance.state !== 'ready' ? undefined : instance;
  }

  /**
   * Drains and restarts the instance of the slot named `id` (see PoolSupervisor.restartByOperator);
   * resolves with its status once it is ready again (or its start failed). Undefined for an unknown
   * id; a second request while one runs waits for the same restart.
   */
  async restartInstance(id: string, drainMs: number): Promise<InstanceStatus | undefined> {
    const slot = this.slots.find((candidate) => candidate.id === id);
    if (slot === undefined) return undefined;
    if (slot.state === 'idle') throw new OcpmError('instance_idle', `Instance ${id} serves no session now: there is no process to restart`);
    let restart = this.restarting.get(slot);
    if (restart === undefined) {
      restart = this.supervisor.restartByOperator(slot, drainMs).finally(() => this.restarting.delete(slot));
      this.restarting.set(slot, restart);
    }
    await restart;
    return this.statusOf()[slot.index];
  }

  slotFor(index: number): Slot {
    return this.slots[index % this.slots.length]!;
  }

  statusOf(): InstanceStatus[] {
    return this.slots.map((slot) => {
      const instance = slot.instance;
      const health: HealthResult | undefined = instance?.lastHealth;
      return {
        id: slot.id,
        pid: instance?.pid ?? null,
        port: instance?.port ?? null,
        state: slot.state,
        startedAt: instance?.startedAt ?? null,
        restarts: slot.restarts,
        // The status endpoint is open: no paths (stderr tails can hold them).
        lastError: slot.lastError === null ? null : redactPaths(slot.lastError).slice(0, 300),
        lastHealth: health === undefined ? null : { ok: health.ok, latencyMs: Math.round(health.latencyMs * 10) / 10, failureClass: health.failureClass },
        rssBytes: instance?.rssBytes ?? 0,
        activeTurns: instance?.activeTurns ?? 0,
        directories: instance?.directories.size ?? 0,
      };
    });
  }

  countByState(): Partial<Record<InstanceState, number>> {
    const counts: Partial<Record<InstanceState, number>> = {};
    for (const slot of this.slots) counts[slot.state] = (counts[slot.state] ?? 0) + 1;
    return counts;
  }

  residentBytes(): number {
    return this.slots.reduce((sum, slot) => sum + (slot.instance?.rssBytes ?? 0), 0);
  }

  /** Releases a directory from the instance that serves it (a deleted session's workspace). */
  releaseDirectory(slot: Slot, directory: string, reason: DisposalReason): Promise<void> {
    return this.supervisor.releaseDirectory(slot, directory, reason);
  }

  private async probeAll(): Promise<void> {
    if (this.probing || this.supervisor.isClosed) return;
    this.probing = true;
    try {
      // One slot's failed probe is reported; the other slots are probed all the same.
      await Promise.all(
        this.slots.map((slot) => tolerate(this.housekeeping, 'pool_probe', () => this.supervisor.probe(slot, this.isolated), { instance: slot.id })),
      );
    } finally {
      this.probing = false;
    }
  }
}
