// OpencodeProcessManager: the one object between the web app and OpenCode, a façade over its parts:
// boot (binary, mode, pool), lifecycle (states, drain), sessions (registry and its rules), admission
// (queue, aborts), the turn runner (server mode or per-message) and status.
import { OcpmError } from '../errors/errors.js';
import type { ErrorCode } from '../errors/codes.js';
import type { Metrics } from '../metrics/metrics.js';
import type { TurnRecord } from '../store/turn-store.js';
import { errorMessage } from '../util/guards.js';
import { tolerate } from '../util/housekeeping.js';
import { removeTree } from '../util/remove-tree.js';
import { boot } from './boot.js';
import type { Isolation } from './isolation/isolation.js';
import { createCore, type ManagerCore } from './manager-core.js';
import { bindGauges, buildStats, type LiveCounts } from './manager-status.js';
import type { ExecuteOptions, ManagerOptions, ManagerStats, SessionView, StandaloneOptions } from './manager-types.js';
import type { TrackedResult } from './process-tree/spawn-tracked.js';
import type { InstanceStatus } from './server/server-pool.js';
import { homeOf } from './placement.js';
import { exportSession, importSession, type SessionTransfer } from './session-transfer.js';
import { resetSession } from './session-reset.js';
import { Sessions } from './sessions.js';
import { countRefusal, TurnAdmission } from './turn-admission.js';
import { checkTurn } from './catalog/discover-catalog.js';
import { TurnRunner } from './turn-runner.js';
import { resetUsage } from './usage-accounting.js';
import type { PendingRequests, PermissionReply } from './user-requests/user-request.js';
import type { TurnResult } from './turn.js';
import { WarmUps } from './warm-up.js';
import { gatewayHost } from './gateway-host.js';
import { readinessOf } from './readiness.js';

export type { TurnResult } from './turn.js';
export type { SessionTransfer } from './session-transfer.js';
export type {
  ExecuteOptions,
  ManagerOptions,
  ManagerSettings,
  ManagerState,
  ManagerStats,
  SessionState,
  SessionView,
  StandaloneOptions,
} from './manager-types.js';

let singleton: OpencodeProcessManager | undefined;

export class OpencodeProcessManager {
  /** The process-wide instance the service creates at boot; later calls return the same one. */
  static getInstance(options: ManagerOptions): OpencodeProcessManager {
    singleton ??= new OpencodeProcessManager(options);
    return singleton;
  }

  readonly metrics: Metrics;
  readonly isolation: Isolation;
  private readonly core: ManagerCore;
  private readonly admission: TurnAdmission;
  private readonly sessions: Sessions;
  private readonly warmUps: WarmUps;
  private readonly runner: TurnRunner;
  private readonly killAllOnExit = (): void => this.killAllNow();

  constructor(options: ManagerOptions) {
    this.core = createCore(options);
    this.metrics = this.core.metrics;
    this.isolation = this.core.isolation;
    this.warmUps = new WarmUps(this.core);
    const standalone = (dir: string, args: readonly string[], opts: StandaloneOptions): Promise<TrackedResult> => this.executeStandalone(dir, args, opts);
    this.runner = new TurnRunner(this.core, this.warmUps, standalone);
    // A message aborted or timed out while it waited counts as a turn that did not run.
    this.admission = new TurnAdmission(this.core, (outcome, at) => this.runner.countTurn(this.core.runtime?.mode ?? 'per-message', outcome, at));
    this.sessions = new Sessions(
      this.core,
      (id) => this.admission.isBusy(id),
      (id) => this.admission.isQueued(id),
    );
    bindGauges(this.core, () => this.live());
  }

  /** Finds opencode, reads its capabilities and starts the server pool. Never throws. */
  async start(): Promise<void> {
    const { lifecycle, logger } = this.core;
    if (lifecycle.state !== 'created') return;
    lifecycle.enter('starting');
    logger.info('Initializing OpenCode process manager...');
    process.on('exit', this.killAllOnExit);
    await this.startGateway();
    this.core.runtime = await boot(this.core);
    if (this.core.runtime !== undefined) lifecycle.enter('ready');
  }

  /** Aborts every turn, stops the server pool, ends every child and its descendants, and waits. */
  async stop(): Promise<void> {
    const { lifecycle, children, registry, logger } = this.core;
    if (lifecycle.state === 'stopped' || lifecycle.state === 'stopping') return;
    lifecycle.enter('stopping');
    const reason = 'the service is shutting down';
    await Promise.allSettled([this.admission.abortAll(reason), children.stopAll(new Error(reason))]);
    await this.core.runtime?.pool?.stop();
    await this.core.gateway?.stop();
    process.off('exit', this.killAllOnExit);
    registry.close();
    lifecycle.enter('stopped');
    logger.info('OpenCode process manager stopped');
  }

  /** The model gateway listens before any opencode starts: every child's configuration points at it. */
  private async startGateway(): Promise<void> {
    const { gateway } = this.core;
    if (gateway === undefined) return;
    try {
      await gateway.start(gatewayHost(this.core));
    } catch (error) {
      // Without it no child gets a provider: messages fail with no_provider rather than leak a key.
      this.core.logger.error('The model gateway could not listen; opencode gets no model provider', {
        error: errorMessage(error),
      });
      return;
    }
    this.core.childEnv = { ...this.core.childEnv, ...gateway.baseEnv() };
  }

  /**
   * Graceful shutdown, first step: take no new messages (503 `draining`, /readyz 503), give accepted
   * ones up to `timeoutMs` to finish, then stop (which aborts the rest and ends every process).
   */
  async drain(timeoutMs = this.core.settings.turns.drainTimeoutMs, beforeStop?: () => Promise<void>): Promise<void> {
    const { lifecycle, logger } = this.core;
    if (lifecycle.state === 'ready' || lifecycle.state === 'unavailable' || lifecycle.state === 'starting') {
      lifecycle.enter('draining');
      logger.info('Draining: no new messages; waiting for accepted ones', { pending: lifecycle.pending, timeoutMs });
      if (!(await lifecycle.settle(timeoutMs))) logger.warn('Drain timeout: aborting the turns still running', { pending: lifecycle.pending });
      if (beforeStop !== undefined) {
        // A session moves only between turns: what is still running is ended first.
        await this.admission.abortAll('the service is shutting down');
        await beforeStop();
      }
    }
    await this.stop();
  }

  /** The session as a peer needs it to continue (record, history, conversation); see session-transfer.ts. */
  async exportSession(id: string, timeoutMs: number): Promise<SessionTransfer | undefined> {
    const session = this.core.sessions.get(id);
    if (session === undefined) return undefined;
    await this.warmUps.settled(id);
    return exportSession(this.core, session, timeoutMs);
  }

  /** Takes a session a draining peer handed over. */
  async importSession(transfer: SessionTransfer, timeoutMs: number): Promise<void> {
    if (this.admission.isBusy(transfer.record.id)) throw new OcpmError('session_busy', `Session ${transfer.record.id} is running a turn here`);
    await importSession(this.core, transfer, timeoutMs);
    this.core.logger.info('Session taken over from a peer', { sessionId: transfer.record.id });
  }

  /**
   * Forgets a session a peer now owns: its record, history and this replica's copy of its conversation
   * (never its workspace). The session has moved either way: a session home that cannot be removed is
   * logged and counted (`handoff_release`).
   */
  async releaseSession(id: string): Promise<void> {
    const session = this.core.sessions.get(id);
    if (session === undefined) return;
    await this.sessions.remove(session);
    this.core.registry.turns.deleteSession(id);
    if (this.core.runtime?.sandbox !== undefined) {
      await tolerate(this.core, 'handoff_release', () => removeTree(homeOf(this.core, session).root), { sessionId: id });
    }
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
    this.core.runtime?.pool?.killNow();
  }

  get isReady(): boolean {
    return this.core.lifecycle.state === 'ready';
  }

  /** Why the manager cannot take messages (the message of readiness()), or undefined when it can. */
  notReadyReason(): string | undefined {
    return this.readiness()?.message;
  }

  /** The error code and message for /readyz and refused messages (undefined: ready). */
  readiness(): { code: ErrorCode; message: string } | undefined {
    return readinessOf(this.core);
  }

  registerSession(id: string, workspace: string): { session: SessionView; created: boolean } {
    const { session, created } = this.sessions.upsert(id, workspace);
    this.core.logger.info(created ? 'Session registered' : 'Session updated', { sessionId: id });
    this.warmUps.start(session);
    return { session: this.sessions.view(session), created };
  }

  /** Recent turns of a session, newest first (answers of clients that went away included). */
  listTurns(id: string, limit: number): TurnRecord[] {
    return this.core.registry.turns.list(id, limit);
  }

  getSession(id: string): SessionView | undefined {
    const session = this.core.sessions.get(id);
    return session === undefined ? undefined : this.sessions.view(session);
  }

  listSessions(): SessionView[] {
    return this.core.sessions.list().map((session) => this.sessions.view(session));
  }

  /** Removes a session once its messages are aborted and its turn ended; `purge` also deletes its workspace, conversation and history. */
  async deleteSession(id: string, options: { purge?: boolean } = {}): Promise<boolean> {
    const session = this.core.sessions.get(id);
    if (session === undefined) return false;
    await this.admission.abortSession(id, 'the session was deleted');
    await this.warmUps.settled(id);
    await this.sessions.remove(session);
    if (options.purge === true) await this.sessions.purge(session);
    this.core.logger.info(options.purge === true ? 'Session purged' : 'Session removed', { sessionId: id });
    return true;
  }

  /** Starts the session's usage (and so its budgets) over; undefined for an unknown session. */
  resetUsage(id: string): SessionView | undefined {
    const session = this.core.sessions.get(id);
    if (session === undefined) return undefined;
    resetUsage(this.core, session);
    this.core.logger.info('Session usage reset', { sessionId: id });
    return this.sessions.view(session);
  }

  /**
   * Unsticks a session: aborts its turn and queued messages, rejects what it waits on and forgets its
   * opencode conversation (record, workspace and history stay). Undefined for an unknown id.
   */
  async resetSession(id: string): Promise<SessionView | undefined> {
    const session = this.core.sessions.get(id);
    if (session === undefined) return undefined;
    await resetSession({ core: this.core, admission: this.admission, sessions: this.sessions, warmUps: this.warmUps }, session);
    return this.sessions.view(session);
  }

  /**
   * Drains and restarts one server instance (`processManager.instances[].id`): its running turns get
   * up to `drainMs`, then it is replaced; resolves with its status once the new one is ready (or its
   * start failed). Undefined for an unknown id; 409 `not_server_mode` without a pool.
   */
  async restartInstance(id: string, drainMs: number): Promise<InstanceStatus | undefined> {
    const pool = this.core.runtime?.pool;
    if (pool === undefined)
      throw new OcpmError('not_server_mode', 'The manager runs no opencode server pool (per-message mode): there is no instance to restart');
    const status = await pool.restartInstance(id, drainMs);
    if (status !== undefined) this.core.logger.info('Server instance restarted on request', { instance: id, pid: status.pid, state: status.state });
    return status;
  }

  /** Aborts the session's running turn; false when it runs none. */
  abortTurn(id: string, reason = 'abort requested'): boolean {
    return this.admission.abortTurn(id, reason);
  }

  /** The permission requests and questions of the session's turn that wait for a person's answer. */
  pendingUserRequests(id: string): PendingRequests {
    return this.core.userRequests.list(id);
  }

  /** Every session's pending permission requests and questions (the operator console). */
  allPendingRequests(): PendingRequests {
    return this.core.userRequests.listAll();
  }

  /** The latest turns across sessions, running ones included, newest first (the operator console). */
  recentTurns(limit: number): TurnRecord[] {
    return this.core.registry.turns.recent(limit);
  }

  /** A person's reply to a pending permission request (404 unknown, 409 already answered). */
  async answerPermission(id: string, requestId: string, reply: PermissionReply, message?: string): Promise<void> {
    await this.core.userRequests.answerPermission(id, requestId, reply, message);
  }

  /** A person's answers to a pending question, or its rejection (404 unknown, 409 already answered). */
  async answerQuestion(id: string, requestId: string, answer: { answers: readonly (readonly string[])[] } | { reject: true }): Promise<void> {
    await this.core.userRequests.answerQuestion(id, requestId, answer);
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
  async executeStandalone(workspaceDir: string, args: readonly string[], options: StandaloneOptions = {}): Promise<TrackedResult> {
    const binary = this.core.runtime?.binary;
    if (binary === undefined) throw new OcpmError('opencode_unavailable', this.notReadyReason() ?? 'opencode is unavailable');
    return this.core.children.run({
      ...options,
      file: binary.path,
      workspaceDir,
      args,
      env: { ...this.core.childEnv, ...options.env },
      timeoutMs: options.timeoutMs ?? this.core.settings.turns.turnTimeoutMs,
    });
  }

  getStats(now = Date.now()): ManagerStats {
    return buildStats(this.core, this.live(), now);
  }

  private live(): LiveCounts {
    const { scheduler } = this.admission;
    return { queued: scheduler.waiting, running: scheduler.running };
  }
}
