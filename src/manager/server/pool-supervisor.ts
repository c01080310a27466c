// Keeps each slot's `opencode serve` alive: starts it (in its session's sandbox when isolated),
// restarts it after an exit with capped backoff, marks a crash-looping slot failed and retries it
// later, and on each probe checks health, releases idle directories and replaces an instance that
// is unhealthy or whose process tree grew past the memory limit.
// Nothing of this background work may reject where nobody listens: its failures are logged and
// counted (`supervisor`, `directory_release`) and a slot whose start failed is retried.
import { mkdir } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from '../../logging/logger.js';
import type { Metrics } from '../../metrics/metrics.js';
import { errorMessage } from '../../util/guards.js';
import { housekeepingFailed, inBackground, type Housekeeping } from '../../util/housekeeping.js';
import { ServerInstance, type HealthResult } from './server-instance.js';
import { StartGate, type StartQueueStatus } from './start-gate.js';
import type { DisposalReason, PoolConfig, PoolRuntime, RestartReason } from './pool-config.js';
import type { Slot } from './slot.js';
import { directoriesToRewarm, rewarm } from './rewarm.js';

export class PoolSupervisor {
  private closed = false;
  private readonly closeController = new AbortController();
  private readonly gate: StartGate;
  private readonly housekeeping: Housekeeping;

  constructor(
    private readonly config: PoolConfig,
    private readonly runtime: PoolRuntime,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {
    this.housekeeping = { logger, metrics };
    this.gate = new StartGate(config.maxConcurrentStarts);
  }

  /** The starts running and waiting now. */
  startQueue(): StartQueueStatus {
    return this.gate.status();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    this.closed = true;
    this.closeController.abort();
  }

  async startSlot(slot: Slot): Promise<void> {
    const tenant = slot.tenant;
    if (slot.servesOneSession && tenant === undefined) {
      slot.markIdle();
      return;
    }
    // What the instance being replaced served lately is loaded again into the next one (rewarm.ts).
    const lately = directoriesToRewarm(slot.instance, this.config.directoryIdleMs);
    slot.beginStart();
    try {
      if (tenant === undefined) await mkdir(slot.dataHome, { recursive: true });
      else await tenant.sandbox.prepareHome(tenant.home);
    } catch (error) {
      // No process was spawned: the slot is retried like a failed start, not left `starting`.
      slot.recordFailure(`could not prepare the data dir: ${errorMessage(error)}`);
      this.logger.error('Server instance failed to start', { instance: slot.id, error: slot.lastError });
      if (!this.closed) this.scheduleRestart(slot, 'start_failed');
      return;
    }
    // Starts past OCPM_MAX_CONCURRENT_STARTS wait here; the slot stays `starting` meanwhile.
    const queuedAt = performance.now();
    const leave = await this.gate.enter(this.closeController.signal);
    if (leave === undefined) return;
    this.metrics.serverStartWait.observe((performance.now() - queuedAt) / 1000);
    let instance: ServerInstance;
    let started: number;
    try {
      // Freed or given to another session while it waited: that session's start is another call.
      if (slot.tenant !== tenant) return;
      const gateway = (await this.runtime.gatewayEnv?.({ sessionId: tenant?.sessionId, slot: slot.index })) ?? { env: {}, port: undefined };
      instance = new ServerInstance(slot.index, {
        binary: this.runtime.binary,
        cwd: tenant?.workspace ?? slot.home.dir,
        env: {
          ...this.runtime.env,
          ...(tenant === undefined ? { XDG_DATA_HOME: slot.dataHome } : tenant.sandbox.childEnv(tenant.home)),
          ...gateway.env,
        },
        sandbox:
          tenant === undefined
            ? undefined
            : (file, args, tmpDir) =>
                tenant.sandbox.wrap(file, args, {
                  sessionId: tenant.sessionId,
                  workspace: tenant.workspace,
                  home: tenant.home,
                  tmpDir,
                  gatewayPort: gateway.port,
                }),
        serverStartTimeoutMs: this.config.serverStartTimeoutMs,
        healthTimeoutMs: this.config.healthTimeoutMs,
        killGraceMs: this.runtime.killGraceMs,
        logger: this.logger,
        processes: this.runtime.processes,
      });
      slot.attach(instance);
      started = performance.now();
      try {
        await instance.start();
        this.metrics.spawns.inc({ kind: 'serve', outcome: 'started' });
      } catch (error) {
        this.metrics.spawns.inc({ kind: 'serve', outcome: 'failed' });
        if (slot.instance !== instance) return;
        slot.recordFailure(errorMessage(error));
        this.logger.error('Server instance failed to start', { instance: slot.id, error: slot.lastError });
        if (!this.closed) this.scheduleRestart(slot, 'start_failed');
        return;
      }
    } finally {
      leave();
    }
    if (this.closed || slot.instance !== instance) {
      // Shut down, or (isolated pools) the slot was freed or given away while this one started.
      await instance.stop(this.closed ? 'the service is shutting down' : 'its slot was given to another session');
      return;
    }
    this.metrics.serverStartDuration.observe((performance.now() - started) / 1000);
    instance.readMemory();
    slot.markReady();
    this.logger.info('Server instance ready', { instance: slot.id, pid: instance.pid, port: instance.port, startMs: Math.round(performance.now() - started) });
    const exited = instance.exited;
    if (exited !== undefined) inBackground(this.housekeeping, 'supervisor', () => this.watchExit(slot, instance, exited), { instance: slot.id });
    inBackground(
      this.housekeeping,
      'supervisor',
      () => rewarm(instance, lately, { timeoutMs: this.config.serverStartTimeoutMs, answerer: this.runtime.warmUpCalls }, this.logger),
      { instance: slot.id },
    );
  }

  /** Restarts the slot when its instance exits without being asked to, also when the end of its process could not be followed. */
  private async watchExit(slot: Slot, instance: ServerInstance, exited: NonNullable<ServerInstance['exited']>): Promise<void> {
    let why: string;
    let fields: Record<string, unknown>;
    try {
      const result = await exited;
      why = `opencode serve exited (code ${String(result.exitCode)}, signal ${String(result.signal)})`;
      fields = { pid: result.pid, exitCode: result.exitCode, signal: result.signal, stderrTail: result.stderrTail.slice(-5) };
    } catch (error) {
      housekeepingFailed(this.housekeeping, 'supervisor', error, { instance: slot.id, what: 'following the exit of opencode serve' });
      why = `opencode serve ended: ${errorMessage(error)}`;
      fields = { error: errorMessage(error) };
    }
    if (instance.state === 'stopping' || instance.state === 'stopped' || this.closed || slot.instance !== instance) return;
    instance.markExited();
    slot.recordFailure(why);
    this.logger.error('Server instance exited unexpectedly', { instance: slot.id, ...fields });
    this.scheduleRestart(slot, 'exit');
  }

  /** Restarts a slot after its backoff, or marks it failed when it crash-loops. */
  private scheduleRestart(slot: Slot, reason: RestartReason): void {
    if (this.closed) return;
    const tenant = slot.tenant;
    const instance = slot.instance;
    const decision = slot.policy.next();
    const later = (ms: number, then: () => void): void => {
      // An isolated slot freed or given away meanwhile is not restarted for its old session, nor a
      // slot an operator restarted meanwhile (it has a new instance).
      inBackground(
        this.housekeeping,
        'supervisor',
        async () => {
          const waited = await delay(ms, true, { signal: this.closeController.signal }).catch(() => false); // false: the pool closed
          if (waited && slot.tenant === tenant && slot.instance === instance) then();
        },
        { instance: slot.id },
      );
    };
    if (decision.action === 'fail') {
      slot.markFailed();
      this.logger.error('Server instance failed: too many restarts; falling back to per-message mode for its sessions', {
        instance: slot.id,
        restarts: slot.policy.count(),
        windowMs: this.config.restartWindowMs,
        retryInMs: this.config.serverRetryMs,
      });
      later(this.config.serverRetryMs, () => {
        slot.policy.reset();
        this.restartNow(slot, 'retry');
      });
      return;
    }
    slot.markBackoff();
    this.logger.warn('Restarting server instance', { instance: slot.id, reason, delayMs: decision.delayMs });
    later(decision.delayMs, () => this.restartNow(slot, reason));
  }

  private restartNow(slot: Slot, reason: RestartReason): void {
    if (this.closed) return;
    slot.countRestart();
    this.metrics.serverRestarts.inc({ reason });
    inBackground(this.housekeeping, 'supervisor', () => this.startSlot(slot), { instance: slot.id, reason });
  }

  /**
   * Stops a live but unwanted instance (unhealthy or too big) and starts a new one: in-flight turns
   * get up to restartDrainMs to finish, then they are aborted with the reason.
   */
  private async replace(slot: Slot, instance: ServerInstance, reason: RestartReason, why: string): Promise<void> {
    // A wedged server is better bypassed per-message; a big one is better waited for.
    slot.beginReplacement(reason === 'memory', why);
    this.logger.warn('Replacing server instance', { instance: slot.id, reason, why, activeTurns: instance.activeTurns });
    const deadline = Date.now() + this.config.restartDrainMs;
    while (instance.activeTurns > 0 && Date.now() < deadline && !this.closed) {
      await delay(Math.min(250, this.config.restartDrainMs));
    }
    await instance.stop(`the opencode server was restarted (${why})`);
    // A memory recycle starts cold: re-warming every workspace would bring the memory straight back.
    if (reason === 'memory') for (const directory of [...instance.directories.keys()]) instance.work.forget(directory);
    this.scheduleRestart(slot, reason);
  }

  /**
   * An operator's restart: no new turn is given the instance (they wait for the next one, or run
   * per-message when that takes too long), its running turns get up to `drainMs` to finish and are
   * aborted after, then it stops and a new instance starts at once (no backoff, not counted by the
   * crash-loop policy). Resolves when the new instance is ready or its start failed. A slot that
   * has no instance running (failed, backing off) starts one now.
   */
  async restartByOperator(slot: Slot, drainMs: number): Promise<void> {
    const instance = slot.instance;
    slot.beginReplacement(true);
    this.logger.warn('Restarting server instance on request', { instance: slot.id, reason: 'operator', activeTurns: instance?.activeTurns ?? 0, drainMs });
    if (instance !== undefined) {
      const deadline = Date.now() + drainMs;
      while (instance.activeTurns > 0 && Date.now() < deadline && !this.closed) {
        await delay(Math.max(1, Math.min(50, deadline - Date.now())));
      }
      if (instance.activeTurns > 0)
        this.logger.warn('Drain timeout: aborting the turns still running on the instance', { instance: slot.id, activeTurns: instance.activeTurns });
      slot.markStopping();
      await instance.stop('the opencode server was restarted by an operator');
    }
    if (this.closed) return;
    slot.restartedByOperator();
    this.metrics.serverRestarts.inc({ reason: 'operator' });
    await this.startSlot(slot);
  }

  /** One health probe, counted in the metrics. */
  async checkHealth(instance: ServerInstance): Promise<HealthResult> {
    const health = await instance.checkHealth();
    this.metrics.healthDuration.observe(health.latencyMs / 1000);
    if (!health.ok) this.metrics.healthFailures.inc({ class: health.failureClass ?? 'error' });
    return health;
  }

  /** Health, idle directories and memory of a ready instance. */
  async probe(slot: Slot): Promise<void> {
    const instance = slot.instance;
    if (slot.state !== 'ready' || instance === undefined || slot.recyclePending) return;
    const health = await this.checkHealth(instance);
    const failures = instance.recordProbe(health);
    if (!health.ok) {
      this.logger.warn('Health check failed', { instance: slot.id, failureClass: health.failureClass, consecutive: failures });
      if (failures >= this.config.healthFailures) {
        await this.replace(slot, instance, 'health', `${failures} consecutive health check failures (${health.failureClass ?? 'error'})`);
        return;
      }
    }
    // Idle directories go first: what their release gives back may keep the instance under the limit.
    const now = Date.now();
    for (const [directory, lastUsed] of instance.directories) {
      if (now - lastUsed > this.config.directoryIdleMs && !instance.work.isBusyIn(directory)) await this.releaseDirectory(slot, directory, 'idle');
    }
    const rss = instance.readMemory();
    const limit = this.config.maxInstanceRssMb * 1024 * 1024;
    if (limit > 0 && rss > limit) {
      await this.replace(slot, instance, 'memory', `process tree resident memory ${Math.round(rss / 1048576)} MB above the limit`);
    }
  }

  /** Releases a directory from the instance that serves it (idle, or a deleted session's workspace). */
  async releaseDirectory(slot: Slot, directory: string, reason: DisposalReason): Promise<void> {
    const instance = slot.instance;
    if (instance?.client === undefined || !instance.work.forget(directory)) return;
    try {
      await instance.client.disposeDirectory(directory, this.config.healthTimeoutMs);
      this.metrics.directoryDisposals.inc({ reason });
      this.logger.info('Directory released from server instance', { instance: slot.id, reason });
    } catch (error) {
      housekeepingFailed(this.housekeeping, 'directory_release', error, { instance: slot.id, reason });
    }
  }
}
