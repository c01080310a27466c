// A pool of slots, each running one supervised `opencode serve` instance (see PoolSupervisor) with
// its own data dir, kept across restarts so the slot's opencode sessions survive them. What both
// kinds of pool share lives here: turns acquire a slot's instance (waiting, bounded, while it starts
// or is replaced), health probes, operator restarts, status. How slots are given to sessions is the
// subclass's: SharedServerPool pins sessions to long-lived slots, IsolatedServerPool gives each slot
// to one session at a time.
import { OcpmError } from '../../errors/errors.js';
import type { Logger } from '../../logging/logger.js';
import type { Metrics } from '../../metrics/metrics.js';
import { inBackground, tolerate, type Housekeeping } from '../../util/housekeeping.js';
import { slotHome } from '../opencode-homes.js';
import type { PoolConfig, PoolRuntime } from './pool-config.js';
import { slotStatus, type InstanceStatus } from './pool-status.js';
import { PoolSupervisor } from './pool-supervisor.js';
import type { InstanceState, ServerInstance } from './server-instance.js';
import { Slot } from './slot.js';
import type { StartQueueStatus } from './start-gate.js';
import type { MemoryStatus } from './memory-room.js';

export { Slot, type Tenant } from './slot.js';
export type { InstanceStatus } from './pool-status.js';
export { RESTART_REASONS, type PoolConfig, type PoolRuntime, type RestartReason } from './pool-config.js';

/** A turn's hold on an instance: while held, an isolated pool does not give the slot away. */
export interface Lease {
  readonly instance: ServerInstance;
  release(): void;
}

export abstract class ServerPool {
  readonly slots: Slot[];
  protected readonly logger: Logger;
  protected readonly supervisor: PoolSupervisor;
  protected readonly housekeeping: Housekeeping;
  private healthTimer: NodeJS.Timeout | undefined;
  private probing = false;
  /** Operator restarts under way, per slot. */
  private readonly restarting = new Map<Slot, Promise<void>>();

  constructor(
    protected readonly config: PoolConfig,
    runtime: PoolRuntime,
    protected readonly metrics: Metrics,
    logger: Logger,
    slotsServeOneSession: boolean,
  ) {
    this.logger = logger.child({ component: 'server-pool' });
    this.housekeeping = { logger: this.logger, metrics };
    this.slots = Array.from({ length: runtime.size }, (_, i) => new Slot(i, slotHome(runtime.dataDir, i), config, slotsServeOneSession));
    this.supervisor = new PoolSupervisor(config, runtime, metrics, this.logger);
  }

  /** Starts what the pool runs from the start; resolves when each such slot is ready or has failed its first start. */
  abstract start(): Promise<void>;

  /** Whether server mode can serve now. */
  abstract canServe(): boolean;

  /** The periodic health probes of every slot. */
  protected startProbes(): void {
    this.healthTimer = setInterval(() => inBackground(this.housekeeping, 'pool_probe', () => this.probeAll()), this.config.healthIntervalMs);
    this.healthTimer.unref();
  }

  /** One slot's periodic probe. */
  protected probeSlot(slot: Slot): Promise<void> {
    return this.supervisor.probe(slot);
  }

  async stop(): Promise<void> {
    this.supervisor.close();
    clearInterval(this.healthTimer);
    await Promise.allSettled(this.slots.map((slot) => slot.instance?.stop('the service is shutting down') ?? Promise.resolve()));
    for (const slot of this.slots) slot.markStopped();
  }

  killNow(): void {
    for (const slot of this.slots) slot.instance?.killNow();
  }

  anyReady(): boolean {
    return this.slots.some((slot) => slot.ready !== undefined);
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
    return slotStatus(slot);
  }

  slotFor(index: number): Slot {
    return this.slots[index % this.slots.length]!;
  }

  statusOf(): InstanceStatus[] {
    return this.slots.map(slotStatus);
  }

  countByState(): Partial<Record<InstanceState, number>> {
    const counts: Partial<Record<InstanceState, number>> = {};
    for (const slot of this.slots) counts[slot.state] = (counts[slot.state] ?? 0) + 1;
    return counts;
  }

  /** Starts running and waiting for their turn (OCPM_MAX_CONCURRENT_STARTS). */
  startQueue(): StartQueueStatus {
    return this.supervisor.startQueue();
  }

  /** Only isolated pools start servers per session under a memory limit. */
  memoryStatus(): MemoryStatus | undefined {
    return undefined;
  }

  residentBytes(): number {
    return this.slots.reduce((sum, slot) => sum + (slot.instance?.rssBytes ?? 0), 0);
  }

  private async probeAll(): Promise<void> {
    if (this.probing || this.supervisor.isClosed) return;
    this.probing = true;
    try {
      // One slot's failed probe is reported; the other slots are probed all the same.
      await Promise.all(this.slots.map((slot) => tolerate(this.housekeeping, 'pool_probe', () => this.probeSlot(slot), { instance: slot.id })));
    } finally {
      this.probing = false;
    }
  }
}
