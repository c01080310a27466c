// A pool of OCPM_POOL_SIZE slots, each running one supervised `opencode serve` instance with its own
// data dir (kept across restarts, so the slot's opencode sessions survive them). The pool probes
// health, restarts with capped backoff, marks crash-looping slots failed (and retries them later),
// recycles instances whose process tree grew past the memory limit, and releases idle directories.
import { redactPaths } from '../../util/redact.js';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from '../../logging/logger.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { ProcessStore } from '../../store/process-store.js';
import { prepareSessionHome, type SessionHome } from '../isolation/session-home.js';
import type { SessionSandbox } from '../isolation/session-sandbox.js';
import { ServerInstance, type HealthResult, type InstanceState } from './server-instance.js';
import { Slot, type Tenant } from './slot.js';

export { Slot, type Tenant } from './slot.js';

export interface PoolSettings {
  readonly size: number;
  readonly binary: string;
  readonly dataDir: string;
  readonly env: Readonly<Record<string, string>>;
  readonly startTimeoutMs: number;
  readonly healthIntervalMs: number;
  readonly healthTimeoutMs: number;
  readonly healthFailures: number;
  readonly killGraceMs: number;
  readonly maxRestarts: number;
  readonly restartWindowMs: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** 0 disables the memory guard. */
  readonly maxInstanceRssBytes: number;
  readonly directoryIdleMs: number;
  /** How long a failed slot waits before server mode is tried again. */
  readonly retryFailedMs: number;
  /** How long a restart waits for the instance's turns to finish before aborting them. */
  readonly restartDrainMs: number;
  /** Where server processes are recorded while they live. */
  readonly processes?: ProcessStore;
  /**
   * Isolated pool: each slot serves one session at a time, its instance confined to that session's
   * sandbox and home; slots start idle and are given to sessions on demand (least recently used first).
   */
  readonly sandbox?: SessionSandbox;
}

/** A turn's hold on an instance: while held, an isolated pool does not give the slot away. */
export interface Lease {
  readonly instance: ServerInstance;
  release(): void;
}

export type RestartReason = 'exit' | 'health' | 'memory' | 'start_failed' | 'retry';

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
  private healthTimer: NodeJS.Timeout | undefined;
  private probing = false;
  private closed = false;
  private readonly closeController = new AbortController();

  constructor(
    private readonly settings: PoolSettings,
    private readonly metrics: Metrics,
    logger: Logger,
  ) {
    this.logger = logger.child({ component: 'server-pool' });
    this.slots = Array.from({ length: settings.size }, (_, i) => new Slot(i, path.join(settings.dataDir, 'opencode', `slot-${i}`), settings));
  }

  get isolated(): boolean {
    return this.settings.sandbox !== undefined;
  }

  /** Starts every slot (an isolated pool's start idle); resolves when each is ready or has failed its first start. */
  async start(): Promise<void> {
    if (!this.isolated) await Promise.all(this.slots.map((slot) => this.startSlot(slot)));
    this.healthTimer = setInterval(() => void this.probeAll(), this.settings.healthIntervalMs);
    this.healthTimer.unref();
  }

  async stop(): Promise<void> {
    this.closed = true;
    this.closeController.abort();
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
    const free = (slot: Slot): boolean => slot.leases === 0 && (slot.instance?.activeTurns ?? 0) === 0;
    const candidates = this.slots.filter(
      (slot) => slot.tenant === undefined || (free(slot) && ['ready', 'stopped', 'failed', 'backoff'].includes(slot.state) && !slot.recyclePending),
    );
    const slot = candidates.sort((a, b) => Number(a.tenant !== undefined) - Number(b.tenant !== undefined) || a.lastUsed - b.lastUsed)[0];
    if (slot === undefined) return undefined;
    const previous = slot.instance;
    if (slot.tenant !== undefined) {
      this.metrics.serverEvictions.inc();
      this.logger.info('Server slot given to another session; its previous session\'s server stops', { instance: slot.id });
    }
    slot.tenant = tenant;
    slot.instance = undefined;
    slot.lastError = null;
    slot.restarts = 0;
    slot.policy.reset();
    slot.state = 'starting';
    void (async () => {
      await previous?.stop('its slot was given to another session');
      if (!this.closed && slot.tenant === tenant) await this.startSlot(slot);
    })();
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

  /** Isolated pools: a deleted session's server stops. */
  async releaseSession(sessionId: string): Promise<void> {
    const slot = this.slotOfSession(sessionId);
    if (slot !== undefined) await this.vacate(slot, 'its session was deleted');
  }

  /** The slot for a session's first use: a ready one with the fewest running turns, then the fewest sessions. */
  pickSlot(): Slot {
    const byLoad = [...this.slots].sort((a, b) => {
      const readyOrder = Number(b.ready !== undefined) - Number(a.ready !== undefined);
      if (readyOrder !== 0) return readyOrder;
      const turns = (a.instance?.activeTurns ?? 0) - (b.instance?.activeTurns ?? 0);
      return turns !== 0 ? turns : a.pinned - b.pinned;
    });
    const slot = byLoad[0] ?? this.slots[0]!;
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
    const { restartDrainMs, startTimeoutMs } = this.settings;
    const deadline = Date.now() + (slot.awaitingReplacement ? restartDrainMs + startTimeoutMs : startTimeoutMs);
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
    const health = await this.checkHealth(instance);
    if (!health.ok) {
      this.logger.warn('Health check after a broken connection failed; this turn runs per-message', { instance: `serve-${instance.slot}`, failureClass: health.failureClass });
      return undefined;
    }
    return instance.processExited || instance.state !== 'ready' ? undefined : instance;
  }

  /** One health probe, counted in the metrics; a pass also clears a broken connection's suspicion. */
  private async checkHealth(instance: ServerInstance): Promise<HealthResult> {
    const health = await instance.checkHealth();
    this.metrics.healthDuration.observe(health.latencyMs / 1000);
    if (health.ok) instance.suspect = false;
    else this.metrics.healthFailures.inc({ class: health.failureClass ?? 'error' });
    return health;
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
  async releaseDirectory(slot: Slot, directory: string, reason: 'idle' | 'session_deleted'): Promise<void> {
    const instance = slot.instance;
    if (instance?.client === undefined || !instance.directories.has(directory)) return;
    instance.directories.delete(directory);
    try {
      await instance.client.disposeDirectory(directory, this.settings.healthTimeoutMs);
      this.metrics.directoryDisposals.inc({ reason });
      this.logger.info('Directory released from server instance', { instance: slot.id, reason });
    } catch (error) {
      this.logger.warn('Directory release failed', { instance: slot.id, error: describe(error) });
    }
  }

  private async startSlot(slot: Slot): Promise<void> {
    const { sandbox } = this.settings;
    const tenant = slot.tenant;
    if (sandbox !== undefined && tenant === undefined) {
      slot.state = 'idle';
      return;
    }
    slot.state = 'starting';
    slot.recyclePending = false;
    if (tenant === undefined) await mkdir(slot.dataHome, { recursive: true });
    else await prepareSessionHome(tenant.home);
    const instance = new ServerInstance(slot.index, {
      binary: this.settings.binary,
      cwd: tenant?.workspace ?? slot.dir,
      env: { ...this.settings.env, ...(tenant === undefined || sandbox === undefined ? { XDG_DATA_HOME: slot.dataHome } : sandbox.childEnv(tenant.home)) },
      ...(tenant === undefined || sandbox === undefined
        ? {}
        : { sandbox: (file: string, args: readonly string[], tmpDir: string) => sandbox.wrap(file, args, { workspace: tenant.workspace, home: tenant.home, tmpDir }) }),
      startTimeoutMs: this.settings.startTimeoutMs,
      healthTimeoutMs: this.settings.healthTimeoutMs,
      killGraceMs: this.settings.killGraceMs,
      logger: this.logger,
      ...(this.settings.processes === undefined ? {} : { processes: this.settings.processes }),
    });
    slot.instance = instance;
    const started = performance.now();
    try {
      await instance.start();
      this.metrics.spawns.inc({ kind: 'serve', outcome: 'started' });
    } catch (error) {
      this.metrics.spawns.inc({ kind: 'serve', outcome: 'failed' });
      if (slot.instance !== instance) return;
      slot.lastError = describe(error);
      this.logger.error('Server instance failed to start', { instance: slot.id, error: slot.lastError });
      if (!this.closed) this.scheduleRestart(slot, 'start_failed');
      return;
    }
    if (this.closed || slot.instance !== instance) {
      // Shut down, or (isolated pools) the slot was freed or given away while this one started.
      await instance.stop(this.closed ? 'the service is shutting down' : 'its slot was given to another session');
      return;
    }
    this.metrics.serverStartDuration.observe((performance.now() - started) / 1000);
    instance.readMemory();
    slot.state = 'ready';
    this.logger.info('Server instance ready', { instance: slot.id, pid: instance.pid, port: instance.port, startMs: Math.round(performance.now() - started) });
    void instance.exited?.then((result) => {
      if (instance.state === 'stopping' || instance.state === 'stopped' || this.closed || slot.instance !== instance) return;
      instance.state = 'stopped';
      slot.lastError = `opencode serve exited (code ${String(result.exitCode)}, signal ${String(result.signal)})`;
      this.logger.error('Server instance exited unexpectedly', { instance: slot.id, pid: result.pid, exitCode: result.exitCode, signal: result.signal, stderrTail: result.stderrTail.slice(-5) });
      this.scheduleRestart(slot, 'exit');
    });
  }

  /** Restarts a slot after its backoff, or marks it failed when it crash-loops. */
  private scheduleRestart(slot: Slot, reason: RestartReason): void {
    if (this.closed) return;
    const tenant = slot.tenant;
    const decision = slot.policy.next();
    if (decision.action === 'fail') {
      slot.state = 'failed';
      this.logger.error('Server instance failed: too many restarts; falling back to per-message mode for its sessions', {
        instance: slot.id,
        restarts: slot.policy.count(),
        windowMs: this.settings.restartWindowMs,
        retryInMs: this.settings.retryFailedMs,
      });
      void delay(this.settings.retryFailedMs, undefined, { signal: this.closeController.signal }).then(
        () => {
          if (slot.tenant !== tenant) return;
          slot.policy.reset();
          this.restartNow(slot, 'retry');
        },
        () => undefined,
      );
      return;
    }
    slot.state = 'backoff';
    this.logger.warn('Restarting server instance', { instance: slot.id, reason, delayMs: decision.delayMs });
    void delay(decision.delayMs, undefined, { signal: this.closeController.signal }).then(
      // An isolated slot freed or given away meanwhile is not restarted for its old session.
      () => (slot.tenant === tenant ? this.restartNow(slot, reason) : undefined),
      () => undefined,
    );
  }

  private restartNow(slot: Slot, reason: RestartReason): void {
    if (this.closed) return;
    slot.restarts += 1;
    this.metrics.serverRestarts.inc({ reason });
    void this.startSlot(slot);
  }

  /**
   * Stops a live but unwanted instance (unhealthy or too big) and starts a new one: in-flight turns
   * get up to restartDrainMs to finish, then they are aborted with the reason.
   */
  private async replace(slot: Slot, instance: ServerInstance, reason: RestartReason, why: string): Promise<void> {
    slot.recyclePending = true;
    // A wedged server is better bypassed per-message; a big one is better waited for.
    slot.awaitingReplacement = reason === 'memory';
    slot.lastError = why;
    this.logger.warn('Replacing server instance', { instance: slot.id, reason, why, activeTurns: instance.activeTurns });
    const deadline = Date.now() + this.settings.restartDrainMs;
    while (instance.activeTurns > 0 && Date.now() < deadline && !this.closed) {
      await delay(Math.min(250, this.settings.restartDrainMs));
    }
    await instance.stop(`the opencode server was restarted (${why})`);
    this.scheduleRestart(slot, reason);
  }

  private async probeAll(): Promise<void> {
    if (this.probing || this.closed) return;
    this.probing = true;
    try {
      await Promise.all(this.slots.map((slot) => this.probe(slot)));
    } finally {
      this.probing = false;
    }
  }

  private async probe(slot: Slot): Promise<void> {
    const instance = slot.instance;
    if (slot.state !== 'ready' || instance === undefined || slot.recyclePending) return;
    if (this.isolated && slot.leases === 0 && instance.activeTurns === 0 && Date.now() - slot.lastUsed > this.settings.directoryIdleMs) {
      // An isolated server serves one session: idle, it is stopped rather than its directory released.
      await this.vacate(slot, 'its session was idle');
      return;
    }
    const health = await this.checkHealth(instance);
    if (health.ok) {
      instance.consecutiveHealthFailures = 0;
    } else {
      instance.consecutiveHealthFailures += 1;
      this.logger.warn('Health check failed', { instance: slot.id, failureClass: health.failureClass, consecutive: instance.consecutiveHealthFailures });
      if (instance.consecutiveHealthFailures >= this.settings.healthFailures) {
        await this.replace(slot, instance, 'health', `${instance.consecutiveHealthFailures} consecutive health check failures (${health.failureClass ?? 'error'})`);
        return;
      }
    }
    // Idle directories go first: what their release gives back may keep the instance under the limit.
    await this.releaseIdleDirectories(slot, instance);
    const rss = instance.readMemory();
    if (this.settings.maxInstanceRssBytes > 0 && rss > this.settings.maxInstanceRssBytes) {
      await this.replace(slot, instance, 'memory', `process tree resident memory ${Math.round(rss / 1048576)} MB above the limit`);
    }
  }

  private async releaseIdleDirectories(slot: Slot, instance: ServerInstance): Promise<void> {
    const now = Date.now();
    const busy = new Set(instance.busySessions.values());
    for (const [directory, lastUsed] of instance.directories) {
      if (now - lastUsed > this.settings.directoryIdleMs && !busy.has(directory)) {
        await this.releaseDirectory(slot, directory, 'idle');
      }
    }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
