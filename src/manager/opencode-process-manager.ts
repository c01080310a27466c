// OpencodeProcessManager: the one object between the web app and OpenCode. It finds the binary, keeps
// the session -> workspace registry, and runs each message either on a pool of supervised
// `opencode serve` instances (server mode) or as one tracked `opencode run` process (per-message
// mode, also the fallback when no instance can serve). It reports what it does through getStats(),
// metrics and logs.
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../config/config.js';
import { OcpmError, RunFailedError, TurnAbortedError, TurnStalledError, TurnTimeoutError } from '../errors/errors.js';
import { createSilentLogger, type Logger } from '../logging/logger.js';
import { createMetrics, type CommandOutcome, type Metrics } from '../metrics/metrics.js';
import { memoryRegistry, type Registry } from '../store/registry.js';
import { SessionRegistry, type SessionRecord } from '../store/session-registry.js';
import type { TurnRecord } from '../store/turn-store.js';
import { pathHider } from '../util/hide-host-paths.js';
import { reapOrphans } from './process-tree/orphan-reaper.js';
import { buildChildEnv } from './child-env.js';
import { findOpencodeBinary, type OpencodeBinary } from './opencode-binary.js';
import { runPerMessageTurn } from './per-message/per-message-turn.js';
import { DataHomeGate } from './per-message/data-home-gate.js';
import { RunChildren } from './per-message/run-children.js';
import type { TrackedResult } from './process-tree/spawn-tracked.js';
import { ServerPool, type Lease, type Slot } from './server/server-pool.js';
import { resolveIsolation, type Isolation } from './isolation/isolation.js';
import { SANDBOX_BINARY } from './isolation/sandbox-binary.js';
import { prepareSessionHome, sessionHome, type SessionHome } from './isolation/session-home.js';
import { SessionSandbox } from './isolation/session-sandbox.js';
import { ensureOpencodeSession, runServerTurn } from './server/server-turn.js';
import { InstanceUnreachableError } from './server/server-instance.js';
import type { TurnMode, TurnResult } from './turn.js';
import { QueueRejectedError, TurnScheduler } from './turn-scheduler.js';
import {
  MODE_DESCRIPTIONS, type ExecuteOptions, type ManagerOptions, type ManagerSettings, type ManagerState, type ManagerStats, type SessionView, type StandaloneOptions,
} from './manager-types.js';

export type { TurnResult } from './turn.js';
export type { ExecuteOptions, ManagerOptions, ManagerSettings, ManagerState, ManagerStats, SessionView, StandaloneOptions } from './manager-types.js';

/** Errors opencode prints when `--session` names a conversation its database does not have. */
const UNKNOWN_SESSION_PATTERN = /session.*not\s*found|NotFoundError/i;

interface RunningTurn {
  readonly controller: AbortController;
  readonly done: Promise<unknown>;
}

let singleton: OpencodeProcessManager | undefined;

export class OpencodeProcessManager {
  /** The process-wide instance the service creates at boot; later calls return the same one. */
  static getInstance(options: ManagerOptions): OpencodeProcessManager {
    singleton ??= new OpencodeProcessManager(options);
    return singleton;
  }

  readonly metrics: Metrics;
  private readonly logger: Logger;
  private readonly settings: ManagerSettings;
  private readonly childEnv: Record<string, string>;
  private readonly sourceEnv: NodeJS.ProcessEnv;
  private readonly serviceVersion: string;
  private readonly registry: Registry;
  private readonly sessions: SessionRegistry;
  private readonly children: RunChildren;
  private readonly dataHomeGate = new DataHomeGate();
  private readonly turns = new Map<string, RunningTurn>();
  /** Every accepted message not yet finished (waiting or running), per session: aborted on delete and stop. */
  private readonly accepted = new Map<string, Set<AbortController>>();
  private readonly scheduler: TurnScheduler;
  private idleWaiters: Array<() => void> = [];
  private readonly warmups = new Map<string, Promise<unknown>>();
  private state: ManagerState = 'created';
  private binary: OpencodeBinary | undefined;
  private pool: ServerPool | undefined;
  private configuredMode: TurnMode | undefined;
  private servingFallback = false;
  private unavailableReason: string | null = null;
  private pending = 0;
  private streams = 0;
  private lastActivity = Date.now();
  private readonly killAllOnExit = (): void => this.killAllNow();
  readonly isolation: Isolation;
  /** Set at start when isolation is enforced: every opencode child runs in its session's sandbox. */
  private sandbox: SessionSandbox | undefined;

  constructor(options: ManagerOptions) {
    const defaults = loadConfig({});
    this.settings = { ...defaults, ...options.settings };
    this.registry = options.registry ?? memoryRegistry();
    this.sessions = new SessionRegistry(this.registry.sessions);
    this.logger = (options.logger ?? createSilentLogger()).child({ component: 'process-manager' });
    this.metrics = options.metrics ?? createMetrics();
    this.children = new RunChildren({ logger: this.logger, metrics: this.metrics, processes: this.registry.processes, killGraceMs: this.settings.killGraceMs });
    this.sourceEnv = options.env ?? process.env;
    this.childEnv = buildChildEnv(this.sourceEnv, this.settings.childEnvAllow);
    this.serviceVersion = options.serviceVersion ?? '0.0.0';
    this.isolation = options.isolation ?? resolveIsolation(this.settings.isolation);
    this.metrics.isolationEnforced.set(this.isolation.enforced ? 1 : 0);
    this.scheduler = new TurnScheduler(
      {
        maxConcurrent: this.settings.maxConcurrentTurns,
        queueLimit: this.settings.queueLimit,
        sessionQueueLimit: this.settings.sessionQueueLimit,
        queueTimeoutMs: this.settings.queueTimeoutMs,
      },
      this.metrics,
    );
    this.metrics.bindGauges({
      activeProcesses: () => this.children.size + (this.pool?.countByState().ready ?? 0),
      activeStreams: () => this.streams,
      pendingRequests: () => this.scheduler.waiting,
      sessions: () => this.sessions.size,
      activeSessions: () => this.sessions.countActive(this.settings.sessionIdleMs),
      serverInstances: () => this.pool?.countByState() ?? {},
      residentMemory: (kind) =>
        kind === 'serve' ? (this.pool?.residentBytes() ?? 0) : this.children.residentBytes(),
      serverMemory: () => this.pool?.slots.map((slot) => ({ server: slot.id, bytes: slot.instance?.rssBytes ?? 0 })) ?? [],
    });
  }

  /** Finds opencode, reads its capabilities and starts the server pool. Never throws. */
  async start(): Promise<void> {
    if (this.state !== 'created') return;
    this.state = 'starting';
    this.logger.info('Initializing OpenCode process manager...');
    process.on('exit', this.killAllOnExit);
    await this.cleanUpAfterCrash();
    try {
      this.binary = await findOpencodeBinary({
        explicit: this.settings.opencodeBin,
        env: this.childEnv,
        searchPath: this.sourceEnv,
        cwd: process.cwd(),
        processes: this.registry.processes,
      });
    } catch (error) {
      this.state = 'unavailable';
      this.unavailableReason = error instanceof Error ? error.message : String(error);
      this.metrics.setBuildInfo({ version: this.serviceVersion, opencodeVersion: 'unavailable', mode: this.settings.mode });
      this.logger.error('OpenCode process manager initialization failed', { reason: this.unavailableReason });
      return;
    }
    if (this.isolation.enforced) {
      this.sandbox = new SessionSandbox({
        launcher: SANDBOX_BINARY,
        opencodeBinary: this.binary.path,
        extraReadPaths: this.settings.sandboxReadPaths,
        toolEnvAllow: this.settings.toolEnvAllow,
        sourceEnv: this.sourceEnv,
      });
      this.logger.info('Sessions are isolated: each runs in a Landlock sandbox of its own', { mechanism: this.isolation.mechanism, landlockAbi: this.isolation.abi });
    } else {
      this.logger.warn('SESSIONS ARE NOT ISOLATED: every agent can read and write other sessions\' workspaces and the service\'s data', { reason: this.isolation.reason });
    }
    this.configuredMode = this.chooseMode(this.binary);
    this.metrics.setBuildInfo({ version: this.serviceVersion, opencodeVersion: this.binary.version, mode: this.configuredMode });
    if (this.configuredMode === 'server') {
      this.metrics.instanceMemoryLimit.set(this.settings.maxInstanceRssMb * 1024 * 1024);
      this.pool = new ServerPool(
        {
          size: this.poolSize,
          binary: this.binary.path,
          dataDir: this.settings.dataDir,
          env: this.childEnv,
          startTimeoutMs: this.settings.serverStartTimeoutMs,
          healthIntervalMs: this.settings.healthIntervalMs,
          healthTimeoutMs: this.settings.healthTimeoutMs,
          healthFailures: this.settings.healthFailures,
          killGraceMs: this.settings.killGraceMs,
          maxRestarts: this.settings.maxRestarts,
          restartWindowMs: this.settings.restartWindowMs,
          backoffBaseMs: this.settings.restartBackoffMs,
          backoffMaxMs: this.settings.restartBackoffMaxMs,
          maxInstanceRssBytes: this.settings.maxInstanceRssMb * 1024 * 1024,
          directoryIdleMs: this.settings.directoryIdleMs,
          retryFailedMs: this.settings.serverRetryMs,
          restartDrainMs: this.settings.restartDrainMs,
          processes: this.registry.processes,
          ...(this.sandbox === undefined ? {} : { sandbox: this.sandbox }),
        },
        this.metrics,
        this.logger,
      );
      await this.pool.start();
      if (!this.pool.canServe()) this.logger.error('No OpenCode server instance started; serving per-message until one does');
    }
    this.state = 'ready';
    this.logger.info('OpenCode process manager initialized', {
      version: this.binary.version,
      binary: this.binary.path,
      source: this.binary.source,
      mode: this.configuredMode,
      poolSize: this.pool === undefined ? 0 : this.poolSize,
      serverModeSupported: this.binary.supportsServe,
    });
  }

  /** Kills what a crashed previous run left (verified by /proc) and closes its interrupted turns. */
  private async cleanUpAfterCrash(): Promise<void> {
    const reaped = await reapOrphans(this.registry.processes, this.settings.killGraceMs);
    if (reaped.killed > 0) {
      this.metrics.orphansReaped.inc(reaped.killed);
      this.logger.warn('Reaped processes left by a previous run of the service', { processes: reaped.killed, records: reaped.rows });
    }
    const interrupted = this.registry.turns.markInterrupted();
    if (interrupted > 0) this.logger.warn('Turns interrupted by the previous stop were marked interrupted', { turns: interrupted });
    this.logger.info('Registry loaded', { sessions: this.sessions.size });
  }

  /** OCPM_POOL_SIZE, or by default one shared server, or one isolated server per turn that can run at once. */
  private get poolSize(): number {
    return this.settings.poolSize ?? (this.sandbox === undefined ? 1 : this.settings.maxConcurrentTurns);
  }

  private chooseMode(binary: OpencodeBinary): TurnMode {
    const wanted = this.settings.mode;
    if (wanted === 'per-message') {
      this.logger.info('Per-message mode (OCPM_MODE=per-message): each message spawns its own OpenCode process');
      return 'per-message';
    }
    if (binary.supportsServe) {
      this.logger.info('OpenCode supports server mode (serve): messages go to a pool of persistent servers', { poolSize: this.settings.poolSize });
      return 'server';
    }
    if (wanted === 'server') this.logger.error('OCPM_MODE=server but this opencode has no serve command; using per-message mode');
    else this.logger.info('OpenCode does not support server mode, will use per-session approach');
    return 'per-message';
  }

  /** Aborts every turn, stops the server pool, ends every child and its descendants, and waits. */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    this.state = 'stopping';
    const turns = [...this.turns.values()];
    for (const controllers of this.accepted.values()) {
      for (const controller of controllers) controller.abort(new Error('the service is shutting down'));
    }
    await Promise.allSettled([...turns.map((turn) => turn.done), this.children.stopAll(new Error('the service is shutting down'))]);
    await this.pool?.stop();
    process.off('exit', this.killAllOnExit);
    this.registry.close();
    this.state = 'stopped';
    this.logger.info('OpenCode process manager stopped');
  }

  /**
   * Graceful shutdown, first step: take no new messages (503 `draining`, /readyz 503), give accepted
   * ones up to `timeoutMs` to finish, then stop (which aborts the rest and ends every process).
   */
  async drain(timeoutMs = this.settings.drainTimeoutMs): Promise<void> {
    if (this.state === 'ready' || this.state === 'unavailable' || this.state === 'starting') {
      this.state = 'draining';
      this.logger.info('Draining: no new messages; waiting for accepted ones', { pending: this.pending, timeoutMs });
      let timer: NodeJS.Timeout | undefined;
      const finished = this.pending === 0 ? Promise.resolve() : new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      await Promise.race([finished, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
      clearTimeout(timer);
      if (this.pending > 0) this.logger.warn('Drain timeout: aborting the turns still running', { pending: this.pending });
    }
    await this.stop();
  }

  /** SIGKILLs every child tree synchronously: for exits that cannot wait for a graceful stop. */
  killAllNow(): void {
    this.children.killAllNow();
    this.pool?.killNow();
  }

  get isReady(): boolean {
    return this.state === 'ready';
  }

  /** Why the manager cannot take messages, or undefined when it can. */
  notReadyReason(): string | undefined {
    if (this.state === 'ready') return undefined;
    if (this.state === 'draining') return 'the service is shutting down (draining)';
    if (this.state === 'unavailable') return `opencode is unavailable: ${this.unavailableReason ?? 'unknown reason'}`;
    return `the process manager is ${this.state}`;
  }

  registerSession(id: string, workspace: string): { session: SessionView; created: boolean } {
    if (this.turns.has(id) && this.sessions.get(id)?.workspace !== workspace) {
      throw new OcpmError('session_busy', `Session ${id} is running a turn; its workspace cannot change now`);
    }
    if (!this.settings.allowSharedWorkspaces) this.assertWorkspaceFree(id, workspace);
    const { session, created } = this.sessions.upsert(id, workspace);
    this.logger.info(created ? 'Session registered' : 'Session updated', { sessionId: id });
    this.warmUp(session);
    return { session: this.view(session), created };
  }

  /**
   * One workspace, one session: an agent in a directory can edit everything under it, so a workspace
   * equal to, inside, or around another session's is refused unless OCPM_ALLOW_SHARED_WORKSPACES.
   */
  private assertWorkspaceFree(id: string, workspace: string): void {
    const overlaps = (a: string, b: string): boolean => a === b || a.startsWith(`${b}${path.sep}`) || b.startsWith(`${a}${path.sep}`);
    const other = this.sessions.list().find((session) => session.id !== id && overlaps(session.workspace, workspace));
    if (other !== undefined) {
      throw new OcpmError('workspace_in_use', 'Another session uses this workspace, or one inside or around it (OCPM_ALLOW_SHARED_WORKSPACES=true allows it)');
    }
  }

  /**
   * Server mode: create the session's opencode session on its instance in the background, so the
   * first message does not pay the per-directory bootstrap.
   */
  private warmUp(session: SessionRecord): void {
    const pool = this.pool;
    if (pool === undefined || this.state !== 'ready' || this.warmups.has(session.id)) return;
    if (pool.isolated) {
      // Starts the session's own server (a few seconds) so that the first message does not wait for it.
      if (pool.slotOfSession(session.id) !== undefined) return;
      const warming = this.leaseServer(session)
        .then(async (lease) => {
          if (lease === undefined) return;
          try {
            if (session.opencodeSessionId === undefined) await ensureOpencodeSession(lease.instance, session, this.settings.serverStartTimeoutMs);
            this.sessions.save(session);
            this.logger.debug('Session warmed up', { sessionId: session.id });
          } finally {
            lease.release();
          }
        })
        .catch((error: unknown) => this.logger.warn('Session warm-up failed', { sessionId: session.id, error: error instanceof Error ? error.message : String(error) }))
        .finally(() => this.warmups.delete(session.id));
      this.warmups.set(session.id, warming);
      return;
    }
    if (session.opencodeSessionId !== undefined) return;
    const slot = this.slotOf(session);
    const instance = slot.ready;
    if (instance === undefined) return;
    const warming = ensureOpencodeSession(instance, session, this.settings.serverStartTimeoutMs)
      .then(() => {
        this.sessions.save(session);
        this.logger.debug('Session warmed up', { sessionId: session.id, instance: slot.id });
      })
      .catch((error: unknown) => this.logger.warn('Session warm-up failed', { sessionId: session.id, error: error instanceof Error ? error.message : String(error) }))
      .finally(() => this.warmups.delete(session.id));
    this.warmups.set(session.id, warming);
  }

  /** Recent turns of a session, newest first (answers of clients that went away included). */
  listTurns(id: string, limit: number): TurnRecord[] {
    return this.registry.turns.list(id, limit);
  }

  getSession(id: string): SessionView | undefined {
    const session = this.sessions.get(id);
    return session === undefined ? undefined : this.view(session);
  }

  listSessions(): SessionView[] {
    return this.sessions.list().map((session) => this.view(session));
  }

  /**
   * Removes a session, aborting its waiting messages and running turn and waiting for it to end.
   * `purge` also deletes its workspace, its opencode conversation and its turn history.
   */
  async deleteSession(id: string, options: { purge?: boolean } = {}): Promise<boolean> {
    const session = this.sessions.get(id);
    if (session === undefined) return false;
    for (const controller of this.accepted.get(id) ?? []) controller.abort(new Error('the session was deleted'));
    const turn = this.turns.get(id);
    if (turn !== undefined) {
      turn.controller.abort(new Error('the session was deleted'));
      await turn.done.catch(() => undefined);
    }
    await this.warmups.get(id)?.catch(() => undefined);
    this.sessions.delete(id);
    if (this.pool?.isolated === true) {
      await this.pool.releaseSession(id);
    } else if (this.pool !== undefined && session.slot !== undefined) {
      this.pool.unpin(session.slot);
      const stillUsed = this.sessions.list().some((other) => other.slot === session.slot && other.workspace === session.workspace);
      if (!stillUsed) await this.pool.releaseDirectory(this.pool.slotFor(session.slot), session.workspace, 'session_deleted');
    }
    if (options.purge === true) await this.purge(session);
    this.logger.info(options.purge === true ? 'Session purged' : 'Session removed', { sessionId: id });
    return true;
  }

  /**
   * Deletes what a session left on disk: its workspace, its turn history and its opencode
   * conversation (the whole session home when isolated; without isolation the conversation lives in
   * a database shared with other sessions and only opencode's own delete is possible).
   */
  private async purge(session: SessionRecord): Promise<void> {
    this.registry.turns.deleteSession(session.id);
    // A workspace another session still uses (OCPM_ALLOW_SHARED_WORKSPACES) stays.
    if (this.sessions.list().some((other) => other.workspace === session.workspace)) {
      this.logger.warn('Purge kept the workspace: another session uses it', { sessionId: session.id });
    } else {
      await rm(session.workspace, { recursive: true, force: true });
    }
    if (this.sandbox !== undefined) {
      await rm(this.homeOf(session).root, { recursive: true, force: true });
      return;
    }
    const instance = this.pool !== undefined && session.slot !== undefined ? this.pool.slotFor(session.slot).ready : undefined;
    if (instance?.client !== undefined && session.opencodeSessionId !== undefined) {
      await instance.client.deleteSession(session.opencodeSessionId, session.workspace, this.settings.healthTimeoutMs).catch((error: unknown) => {
        this.logger.warn('opencode could not delete the purged session\'s conversation', { sessionId: session.id, error: error instanceof Error ? error.message : String(error) });
      });
    }
  }

  /** The session's own opencode home (isolation). */
  private homeOf(session: SessionRecord): SessionHome {
    return sessionHome(this.settings.dataDir, session.id);
  }

  /** The server instance a turn of this session runs on, or undefined to run it per-message. */
  private async leaseServer(session: SessionRecord, signal?: AbortSignal): Promise<Lease | undefined> {
    const pool = this.pool;
    if (pool === undefined) return undefined;
    if (pool.isolated) return pool.leaseFor({ id: session.id, workspace: session.workspace, home: this.homeOf(session) }, signal);
    const instance = await pool.acquire(this.slotOf(session), signal);
    return instance === undefined ? undefined : { instance, release: () => undefined };
  }

  /** Aborts the session's running turn; false when it runs none. */
  abortTurn(id: string, reason = 'abort requested'): boolean {
    const turn = this.turns.get(id);
    if (turn === undefined) return false;
    turn.controller.abort(new Error(reason));
    return true;
  }

  /** Counts an open client stream for status and metrics; call the returned function when it closes. */
  trackStream(): () => void {
    this.streams += 1;
    let open = true;
    return () => {
      if (open) this.streams -= 1;
      open = false;
    };
  }

  /**
   * Throws what executeInSession would throw before queueing (not ready, draining, queue full), so an
   * HTTP caller can answer with a plain error before it opens an event stream.
   */
  assertCanAccept(sessionId: string): void {
    const notReady = this.notReadyReason();
    if (notReady !== undefined) {
      if (this.state === 'draining') this.metrics.rejected.inc({ reason: 'draining' });
      const code = this.state === 'unavailable' ? 'opencode_unavailable' : this.state === 'draining' ? 'draining' : 'not_ready';
      throw new OcpmError(code, notReady);
    }
    this.scheduler.assertCanQueue(sessionId);
  }

  /** Runs one message in a session, continuing its opencode conversation; waits its turn first. */
  async executeInSession(sessionId: string, workspaceDir: string, message: string, options: ExecuteOptions = {}): Promise<TurnResult> {
    this.assertCanAccept(sessionId);
    const existing = this.sessions.get(sessionId);
    const session = existing?.workspace === workspaceDir ? existing : this.sessions.upsert(sessionId, workspaceDir).session;
    const controller = new AbortController();
    const onCallerAbort = (): void => controller.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onCallerAbort, { once: true });
    if (options.signal?.aborted === true) onCallerAbort();
    const controllers = this.accepted.get(sessionId) ?? new Set<AbortController>();
    controllers.add(controller);
    this.accepted.set(sessionId, controllers);
    this.pending += 1;
    const acceptedAt = Date.now();
    try {
      let release: () => void;
      try {
        release = await this.scheduler.acquire(sessionId, controller.signal);
      } catch (error) {
        if (!(error instanceof QueueRejectedError) && error instanceof OcpmError) {
          // Accepted, then aborted or timed out while waiting: it counts as a turn that did not run.
          this.countTurn(this.configuredMode ?? 'per-message', error.code === 'queue_timeout' ? 'timeout' : 'aborted', acceptedAt);
        }
        throw error;
      }
      const done = this.runTurn(session, message, options, controller.signal);
      this.turns.set(sessionId, { controller, done });
      try {
        return await done;
      } finally {
        release();
        if (this.turns.get(sessionId)?.done === done) this.turns.delete(sessionId);
      }
    } finally {
      options.signal?.removeEventListener('abort', onCallerAbort);
      controllers.delete(controller);
      if (controllers.size === 0 && this.accepted.get(sessionId) === controllers) this.accepted.delete(sessionId);
      this.pending -= 1;
      if (this.pending === 0) {
        for (const resolve of this.idleWaiters.splice(0)) resolve();
      }
    }
  }

  private countTurn(mode: TurnMode, outcome: CommandOutcome, startedAt: number): void {
    this.metrics.commands.inc({ mode, outcome });
    this.metrics.commandDuration.observe({ mode, outcome }, (Date.now() - startedAt) / 1000);
  }

  private slotOf(session: SessionRecord): Slot {
    const pool = this.pool!;
    session.slot ??= pool.pickSlot().index;
    return pool.slotFor(session.slot);
  }

  /** The opencode data dir of a session: its slot's (or its own when isolated), in both modes, so its conversation survives a switch. */
  private dataHomeOf(session: SessionRecord): string {
    if (this.sandbox !== undefined) return this.homeOf(session).data;
    if (this.pool !== undefined) return this.slotOf(session).dataHome;
    session.slot ??= 0;
    return path.join(this.settings.dataDir, 'opencode', `slot-${session.slot}`, 'data');
  }

  private async runTurn(session: SessionRecord, message: string, options: ExecuteOptions, signal: AbortSignal): Promise<TurnResult> {
    const startedAt = Date.now();
    this.touch(session, startedAt);
    session.lastMessageAt = startedAt;
    session.messageCount += 1;
    this.sessions.save(session);
    const turnId = this.registry.turns.start(session.id, startedAt);
    const continuing = session.opencodeSessionId;
    let mode: TurnMode = this.configuredMode ?? 'per-message';
    let outcome: CommandOutcome = 'error';
    let errorCode: string | undefined;
    let lease: Lease | undefined;
    try {
      await this.warmups.get(session.id);
      if (this.sandbox !== undefined) await this.prepareIsolatedHome(session);
      lease = await this.leaseServer(session, signal);
      const instance = lease?.instance;
      this.noteServing(instance !== undefined || this.pool === undefined);
      mode = instance === undefined ? 'per-message' : 'server';
      const timeoutMs = options.timeoutMs ?? this.settings.turnTimeoutMs;
      const common = {
        session,
        message,
        ...(options.model === undefined ? {} : { model: options.model }),
        ...(options.agent === undefined ? {} : { agent: options.agent }),
        signal,
        timeoutMs,
        stallTimeoutMs: this.settings.stallTimeoutMs,
        ...(options.onEvent === undefined ? {} : { onEvent: this.eventRelay(session, options.onEvent) }),
        onSessionKnown: () => this.sessions.save(session),
      };
      const dataHome = this.dataHomeOf(session);
      const perMessage = (): ReturnType<typeof runPerMessageTurn> =>
        runPerMessageTurn({
          ...common,
          execute: (args, stdin, onStdoutLine) =>
            this.dataHomeGate.run(dataHome, () =>
              this.executeStandalone(session.workspace, args, {
                stdin,
                timeoutMs,
                stallTimeoutMs: this.settings.stallTimeoutMs,
                signal,
                sessionId: session.id,
                env: this.sandbox === undefined ? { XDG_DATA_HOME: dataHome } : this.sandbox.childEnv(this.homeOf(session)),
                ...(this.sandbox === undefined ? {} : { sandbox: this.sandboxFor(session) }),
                onStdoutLine,
              }),
            ),
        });
      let turn: Awaited<ReturnType<typeof runPerMessageTurn>>;
      if (instance === undefined) {
        turn = await perMessage();
      } else {
        try {
          turn = await runServerTurn({
            ...common,
            instance,
            abortGraceMs: this.settings.killGraceMs,
            createTimeoutMs: this.settings.serverStartTimeoutMs,
            logger: this.logger,
          });
        } catch (error) {
          if (!(error instanceof InstanceUnreachableError)) throw error;
          // The instance died before it took the message: run it per-message instead of failing it.
          this.logger.warn('Server instance unreachable; running this message per-message', { sessionId: session.id, error: error.message });
          mode = 'per-message';
          turn = await perMessage();
        }
      }
      outcome = 'success';
      this.registry.turns.finish(turnId, {
        status: 'success',
        mode,
        durationMs: Date.now() - startedAt,
        text: turn.text,
        tokens: turn.tokens,
        cost: turn.cost,
        ...(turn.opencodeSessionId === undefined ? {} : { opencodeSessionId: turn.opencodeSessionId }),
      });
      return { sessionId: session.id, ...turn };
    } catch (error) {
      outcome = error instanceof TurnTimeoutError || error instanceof TurnStalledError ? 'timeout' : error instanceof TurnAbortedError ? 'aborted' : 'error';
      errorCode = error instanceof OcpmError ? error.code : 'internal_error';
      if (mode === 'per-message' && continuing !== undefined && error instanceof RunFailedError && UNKNOWN_SESSION_PATTERN.test(error.message)) {
        // opencode lost the conversation (its database was reset): start a new one next time.
        session.opencodeSessionId = undefined;
        this.logger.warn('opencode no longer knows this session; the next message starts a new conversation', { sessionId: session.id });
      }
      this.registry.turns.finish(turnId, {
        status: outcome,
        mode,
        durationMs: Date.now() - startedAt,
        error: error instanceof OcpmError ? { code: error.code, message: error.message } : { code: 'internal_error', message: 'Internal error' },
      });
      throw error;
    } finally {
      lease?.release();
      this.countTurn(mode, outcome, startedAt);
      // One line per turn in both modes (never the message text: it is the user's).
      this.logger.info('Turn finished', { sessionId: session.id, mode, outcome, durationMs: Date.now() - startedAt, ...(errorCode === undefined ? {} : { errorCode }) });
      this.touch(session, Date.now());
      this.sessions.save(session);
    }
  }

  /**
   * Isolation: the session's home exists before its opencode starts; a conversation that was kept in
   * a shared data dir before isolation was turned on is not in it, so the session starts a new one.
   */
  private async prepareIsolatedHome(session: SessionRecord): Promise<void> {
    const home = this.homeOf(session);
    if (session.opencodeSessionId !== undefined && !existsSync(home.root)) {
      this.logger.warn('The session\'s conversation is not in its isolated home (kept before isolation, or purged); it starts a new one', { sessionId: session.id });
      session.opencodeSessionId = undefined;
    }
    await prepareSessionHome(home);
  }

  private sandboxFor(session: SessionRecord): NonNullable<StandaloneOptions['sandbox']> {
    const sandbox = this.sandbox!;
    const home = this.homeOf(session);
    return (file, args, tmpDir) => sandbox.wrap(file, args, { workspace: session.workspace, home, tmpDir });
  }

  /**
   * Events as the client sees them: paths relative to the session's workspace, host paths (the
   * service's checkout and data dir, other workspaces, private TMPDIRs) hidden.
   */
  private eventRelay<E>(session: SessionRecord, onEvent: (event: E) => void): (event: E) => void {
    const hide = pathHider(session.workspace, [this.settings.dataDir, path.dirname(session.workspace), process.cwd(), path.join(os.tmpdir(), 'ocpm-child-')]);
    return (event) => onEvent(hide(event) as E);
  }

  /** Logs the switch between server mode and the per-message fallback, once per change. */
  private noteServing(byServer: boolean): void {
    if (this.pool === undefined || byServer === !this.servingFallback) return;
    this.servingFallback = !byServer;
    if (this.servingFallback) this.logger.warn('No OpenCode server instance can serve: falling back to per-message mode');
    else this.logger.info('OpenCode server instances serve again: leaving per-message fallback');
  }

  /** Spawns one opencode process in a workspace and follows it to the end of its whole tree. */
  async executeStandalone(workspaceDir: string, args: readonly string[], options: StandaloneOptions = {}): Promise<TrackedResult> {
    if (this.binary === undefined) throw new OcpmError('opencode_unavailable', this.notReadyReason() ?? 'opencode is unavailable');
    return this.children.run({
      file: this.binary.path,
      workspaceDir,
      args,
      env: { ...this.childEnv, ...options.env },
      timeoutMs: options.timeoutMs ?? this.settings.turnTimeoutMs,
      ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
      ...(options.stallTimeoutMs === undefined ? {} : { stallTimeoutMs: options.stallTimeoutMs }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.sessionId === undefined ? {} : { sessionId: options.sessionId }),
      ...(options.onStdoutLine === undefined ? {} : { onStdoutLine: options.onStdoutLine }),
      ...(options.sandbox === undefined ? {} : { sandbox: options.sandbox }),
    });
  }

  getStats(now = Date.now()): ManagerStats {
    const serverUp = this.pool?.canServe() ?? false;
    const mode = serverUp ? 'server' : 'per-session';
    const description = serverUp ? MODE_DESCRIPTIONS.server : this.pool === undefined ? MODE_DESCRIPTIONS.perMessage : MODE_DESCRIPTIONS.fallback;
    return {
      available: this.binary !== undefined && this.state !== 'unavailable',
      version: this.binary?.version ?? null,
      runningProcesses: this.children.size + (this.pool?.countByState().ready ?? 0),
      activeStreams: this.streams,
      processManager: {
        isRunning: serverUp,
        isReady: this.isReady,
        pendingRequests: this.pending,
        activeSessions: this.sessions.countActive(this.settings.sessionIdleMs, now),
        lastActivity: this.lastActivity,
        idleTime: Math.max(0, now - this.lastActivity),
        mode,
        description,
        ...(this.pool === undefined ? {} : { instances: this.pool.statusOf() }),
      },
      state: this.state,
      draining: this.state === 'draining' || this.state === 'stopping',
      queuedRequests: this.scheduler.waiting,
      runningTurns: this.scheduler.running,
      sessions: this.sessions.size,
      serverModeSupported: this.binary?.supportsServe ?? false,
      configuredMode: this.configuredMode ?? null,
      unavailableReason: this.state === 'unavailable' ? 'opencode binary not found or not working (see the service log)' : null,
      isolation: { mechanism: this.isolation.mechanism, enforced: this.isolation.enforced },
    };
  }

  private touch(session: SessionRecord, at: number): void {
    session.lastActivity = at;
    this.lastActivity = at;
  }

  private view(session: SessionRecord): SessionView {
    return {
      id: session.id,
      workspace: session.workspace,
      opencodeSessionId: session.opencodeSessionId ?? null,
      messageCount: session.messageCount,
      createdAt: session.createdAt,
      lastActivity: session.lastActivity,
      busy: this.turns.has(session.id),
    };
  }
}
