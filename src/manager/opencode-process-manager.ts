// OpencodeProcessManager: the one object between the web app and OpenCode, a façade over its parts:
// startup (gateway, boot, placement), lifecycle (states, drain), sessions (registry, rules, commands),
// admission (queue, aborts), the turn runner (server mode or per-message) and status.
import type { ErrorCode } from '../errors/codes.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Isolation } from './isolation/isolation.js';
import { createCore, type ManagerCore } from './manager-core.js';
import { bindGauges, buildStats, type LiveCounts } from './manager-status.js';
import type { ExecuteOptions, ManagerOptions, ManagerStats, SessionView, StandaloneOptions, TurnHistory, UserRequestDesk } from './manager-types.js';
import type { TrackedResult } from './process-tree/spawn-tracked.js';
import type { InstanceStatus } from './server/server-pool.js';
import type { SessionTransfer } from './session-transfer.js';
import type { SessionCommands } from './session-commands.js';
import { drainManager, startManager, stopManager } from './manager-startup.js';
import { buildParts } from './manager-parts.js';
import type { Sessions } from './sessions.js';
import type { Standalone } from './standalone.js';
import { countRefusal, type TurnAdmission } from './turn-admission.js';
import { checkTurn } from './catalog/discover-catalog.js';
import type { TurnRunner } from './turn-runner.js';
import type { TurnResult } from './turn.js';
import { readinessOf } from './readiness.js';

let singleton: OpencodeProcessManager | undefined;

export class OpencodeProcessManager {
  /** The process-wide instance the service creates at boot; later calls return the same one. */
  static getInstance(options: ManagerOptions): OpencodeProcessManager {
    singleton ??= new OpencodeProcessManager(options);
    return singleton;
  }

  readonly metrics: Metrics;
  readonly isolation: Isolation;
  /** Permission requests and questions that wait on a person: per session or all, and their answers (404 unknown, 409 already answered). */
  readonly userRequests: UserRequestDesk;
  /** Turn history: a session's recent turns (answers of clients that went away included), or the latest across sessions, newest first. */
  readonly turns: TurnHistory;
  private readonly core: ManagerCore;
  private readonly admission: TurnAdmission;
  private readonly sessions: Sessions;
  private readonly commands: SessionCommands;
  private readonly runner: TurnRunner;
  private readonly standalone: Standalone;
  private readonly killAllOnExit = (): void => this.killAllNow();

  constructor(options: ManagerOptions) {
    const core = createCore(options);
    this.core = core;
    this.metrics = core.metrics;
    this.isolation = core.isolation;
    this.userRequests = core.userRequests;
    this.turns = core.registry.turns;
    const parts = buildParts(core);
    this.runner = parts.runner;
    this.admission = parts.admission;
    this.sessions = parts.sessions;
    this.commands = parts.commands;
    this.standalone = parts.standalone;
    bindGauges(core, () => this.live());
  }

  /** Finds opencode, reads its capabilities and starts the placement's servers. Never throws. */
  async start(): Promise<void> {
    if (this.core.lifecycle.state !== 'created') return;
    process.on('exit', this.killAllOnExit);
    await startManager(this.core, {
      sessionInUse: (id) => this.admission.isBusy(id) || this.admission.isQueued(id) || this.core.userRequests.countFor(id) > 0,
    });
  }

  /** Aborts every turn, stops the servers, ends every child and its descendants, and waits. */
  async stop(): Promise<void> {
    await stopManager(this.core, this.admission);
    process.off('exit', this.killAllOnExit);
  }

  /** No new messages, accepted ones get up to `timeoutMs`, `beforeStop` (the handoff) runs, then stop. */
  async drain(timeoutMs = this.core.settings.turns.drainTimeoutMs, beforeStop?: () => Promise<void>): Promise<void> {
    await drainManager(this.core, this.admission, timeoutMs, beforeStop);
    await this.stop();
  }

  exportSession(id: string, timeoutMs: number): Promise<SessionTransfer | undefined> {
    return this.commands.export(id, timeoutMs);
  }

  importSession(transfer: SessionTransfer, timeoutMs: number): Promise<void> {
    return this.commands.import(transfer, timeoutMs);
  }

  /** Forgets a session a peer now owns (never its workspace). */
  releaseSession(id: string): Promise<void> {
    return this.commands.release(id);
  }

  /** Ids of the sessions this replica holds. */
  sessionIds(): string[] {
    return this.core.sessions.list().map((session) => session.id);
  }

  /** The manager's state name (for peers). */
  get state(): string {
    return this.core.lifecycle.state;
  }

  /** SIGKILLs every child tree synchronously: for exits that cannot wait for a graceful stop. */
  killAllNow(): void {
    this.core.children.killAllNow();
    this.core.placement.killNow();
  }

  get isReady(): boolean {
    return this.core.lifecycle.state === 'ready';
  }

  /** The error code and message for /readyz and refused messages (undefined: ready). */
  readiness(): { code: ErrorCode; message: string } | undefined {
    return readinessOf(this.core);
  }

  registerSession(id: string, workspace: string): { session: SessionView; created: boolean } {
    return this.commands.register(id, workspace);
  }

  getSession(id: string): SessionView | undefined {
    const session = this.core.sessions.get(id);
    return session === undefined ? undefined : this.sessions.view(session);
  }

  listSessions(): SessionView[] {
    return this.core.sessions.list().map((session) => this.sessions.view(session));
  }

  /** `purge` also deletes the session's workspace, conversation and history. */
  deleteSession(id: string, options: { purge?: boolean } = {}): Promise<boolean> {
    return this.commands.delete(id, options);
  }

  resetUsage(id: string): SessionView | undefined {
    return this.commands.resetUsage(id);
  }

  /** Aborts the session's turn and queued messages, rejects what it waits on, forgets its conversation. */
  resetSession(id: string): Promise<SessionView | undefined> {
    return this.commands.reset(id);
  }

  /** Drains and restarts one server instance; undefined for an unknown id, 409 `not_server_mode` without servers. */
  async restartInstance(id: string, drainMs: number): Promise<InstanceStatus | undefined> {
    const status = await this.core.placement.restartInstance(id, drainMs);
    if (status !== undefined) this.core.logger.info('Server instance restarted on request', { instance: id, pid: status.pid, state: status.state });
    return status;
  }

  /** Aborts the session's running turn; false when it runs none. */
  abortTurn(id: string, reason = 'abort requested'): boolean {
    return this.admission.abortTurn(id, reason);
  }

  /** Counts an open client stream for status and metrics; call the returned function when it closes. */
  trackStream(): () => void {
    return this.core.activity.trackStream();
  }

  /** Throws what executeInSession would throw before queueing, so HTTP can answer before it opens a stream. */
  async assertCanAccept(sessionId: string): Promise<void> {
    await this.admission.refreshDisk(sessionId);
    this.admission.assertCanAccept(sessionId);
  }

  /** Runs one message in a session (registered, or moved, under registerSession's rules); waits its turn first. */
  async executeInSession(sessionId: string, workspaceDir: string, message: string, options: ExecuteOptions = {}): Promise<TurnResult> {
    this.admission.assertCanAccept(sessionId);
    const { session } = this.sessions.upsert(sessionId, workspaceDir);
    // An unknown model or agent is refused at once: not queued, not a turn.
    countRefusal(this.core, () => checkTurn(this.core, session, options));
    return this.admission.admit(sessionId, options.signal, (signal) => this.runner.run(session, message, options, signal));
  }

  /** Spawns one opencode process in a workspace and follows it to the end of its whole tree. */
  executeStandalone(workspaceDir: string, args: readonly string[], options: StandaloneOptions = {}): Promise<TrackedResult> {
    return this.standalone(workspaceDir, args, options);
  }

  getStats(now = Date.now()): ManagerStats {
    return buildStats(this.core, this.live(), now);
  }

  private live(): LiveCounts {
    const { scheduler } = this.admission;
    return { queued: scheduler.waiting, running: scheduler.running };
  }
}
