// OpencodeProcessManager: the one object between the web app and OpenCode. It finds the binary,
// keeps the session -> workspace registry, runs each message as a tracked `opencode run` process
// (per-message mode), and reports what it is doing through getStats(), metrics and logs.
import { OcpmError, RunFailedError, TurnAbortedError, TurnTimeoutError, describeAbortReason, type RunFailureContext } from '../errors/errors.js';
import { createSilentLogger, type Logger } from '../logging/logger.js';
import { createMetrics, type CommandOutcome, type Metrics } from '../metrics/metrics.js';
import { SessionRegistry, type SessionRecord } from '../store/session-registry.js';
import { buildChildEnv } from './child-env.js';
import { findOpencodeBinary, type OpencodeBinary } from './opencode-binary.js';
import { RunEventCollector, type OpencodeEvent, type TokenUsage } from './per-message/run-events.js';
import { spawnTracked, type TrackedChild, type TrackedResult } from './per-message/spawn-tracked.js';

export interface ManagerSettings {
  readonly opencodeBin: string | undefined;
  readonly turnTimeoutMs: number;
  readonly killGraceMs: number;
  readonly sessionIdleMs: number;
  readonly childEnvAllow: readonly string[];
}

export interface ManagerOptions {
  readonly settings: ManagerSettings;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  /** The environment children are built from (defaults to process.env, filtered by the allow-list). */
  readonly env?: NodeJS.ProcessEnv;
  /** The service's own version, for build_info. */
  readonly serviceVersion?: string;
}

export interface ExecuteOptions {
  readonly model?: string;
  readonly agent?: string;
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
  /** Every opencode event as it arrives (SSE streaming). */
  readonly onEvent?: (event: OpencodeEvent) => void;
}

export interface StandaloneOptions {
  readonly stdin?: string;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** For logs only. */
  readonly sessionId?: string;
  readonly onStdoutLine?: (line: string) => void;
}

export type ManagerMode = 'per-message';

export interface TurnResult {
  readonly sessionId: string;
  readonly text: string;
  readonly opencodeSessionId: string | undefined;
  readonly mode: ManagerMode;
  readonly durationMs: number;
  readonly tokens: TokenUsage;
  readonly cost: number;
  readonly exitCode: number | null;
}

export interface SessionView {
  readonly id: string;
  readonly workspace: string;
  readonly opencodeSessionId: string | null;
  readonly messageCount: number;
  readonly createdAt: number;
  readonly lastActivity: number;
  readonly busy: boolean;
}

export interface ManagerStats {
  available: boolean;
  version: string | null;
  runningProcesses: number;
  activeStreams: number;
  processManager: {
    isRunning: boolean;
    isReady: boolean;
    pendingRequests: number;
    activeSessions: number;
    lastActivity: number;
    idleTime: number;
    mode: 'per-session' | 'server';
    description: string;
  };
  /** Added fields (the shape above is kept as the web app knows it). */
  state: ManagerState;
  sessions: number;
  serverModeSupported: boolean;
  unavailableReason: string | null;
}

export type ManagerState = 'created' | 'starting' | 'ready' | 'unavailable' | 'stopping' | 'stopped';

const PER_SESSION_DESCRIPTION = 'Each message spawns separate OpenCode process';
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
  private readonly sessions = new SessionRegistry();
  private readonly children = new Map<string, TrackedChild>();
  private readonly turns = new Map<string, RunningTurn>();
  private state: ManagerState = 'created';
  private binary: OpencodeBinary | undefined;
  private unavailableReason: string | null = null;
  private pending = 0;
  private streams = 0;
  private lastActivity = Date.now();
  private readonly killAllOnExit = (): void => this.killAllNow();

  constructor(options: ManagerOptions) {
    this.settings = options.settings;
    this.logger = (options.logger ?? createSilentLogger()).child({ component: 'process-manager' });
    this.metrics = options.metrics ?? createMetrics();
    this.sourceEnv = options.env ?? process.env;
    this.childEnv = buildChildEnv(this.sourceEnv, this.settings.childEnvAllow);
    this.serviceVersion = options.serviceVersion ?? '0.0.0';
    this.metrics.bindGauges({
      activeProcesses: () => this.children.size,
      activeStreams: () => this.streams,
      pendingRequests: () => this.pending,
      sessions: () => this.sessions.size,
      activeSessions: () => this.sessions.countActive(this.settings.sessionIdleMs),
    });
  }

  /** Finds opencode and reads its capabilities. Never throws: failure leaves the manager unavailable. */
  async start(): Promise<void> {
    if (this.state !== 'created') return;
    this.state = 'starting';
    this.logger.info('Initializing OpenCode process manager...');
    process.on('exit', this.killAllOnExit);
    try {
      this.binary = await findOpencodeBinary({
        explicit: this.settings.opencodeBin,
        env: this.childEnv,
        searchPath: this.sourceEnv,
        cwd: process.cwd(),
      });
      this.state = 'ready';
      this.metrics.setBuildInfo({ version: this.serviceVersion, opencodeVersion: this.binary.version, mode: 'per-message' });
      if (this.binary.supportsServe) {
        this.logger.info('OpenCode supports server mode (serve); this version runs one process per message');
      } else {
        this.logger.info('OpenCode does not support server mode, will use per-session approach');
      }
      this.logger.info('OpenCode process manager initialized', {
        version: this.binary.version,
        binary: this.binary.path,
        source: this.binary.source,
        mode: 'per-message',
        serverModeSupported: this.binary.supportsServe,
      });
    } catch (error) {
      this.state = 'unavailable';
      this.unavailableReason = error instanceof Error ? error.message : String(error);
      this.metrics.setBuildInfo({ version: this.serviceVersion, opencodeVersion: 'unavailable', mode: 'per-message' });
      this.logger.error('OpenCode process manager initialization failed', { reason: this.unavailableReason });
    }
  }

  /** Aborts every turn, ends every child and its descendants, and waits for them. */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    this.state = 'stopping';
    const turns = [...this.turns.values()];
    for (const turn of turns) turn.controller.abort(new Error('the service is shutting down'));
    for (const child of this.children.values()) child.abort(new Error('the service is shutting down'));
    await Promise.allSettled([...turns.map((turn) => turn.done), ...[...this.children.values()].map((child) => child.done)]);
    process.off('exit', this.killAllOnExit);
    this.state = 'stopped';
    this.logger.info('OpenCode process manager stopped');
  }

  /** SIGKILLs every child tree synchronously: for exits that cannot wait for a graceful stop. */
  killAllNow(): void {
    for (const child of this.children.values()) child.killNow();
  }

  get isReady(): boolean {
    return this.state === 'ready';
  }

  /** Why the manager cannot take messages, or undefined when it can. */
  notReadyReason(): string | undefined {
    if (this.state === 'ready') return undefined;
    if (this.state === 'unavailable') return `opencode is unavailable: ${this.unavailableReason ?? 'unknown reason'}`;
    return `the process manager is ${this.state}`;
  }

  registerSession(id: string, workspace: string): { session: SessionView; created: boolean } {
    if (this.turns.has(id) && this.sessions.get(id)?.workspace !== workspace) {
      throw new OcpmError('session_busy', `Session ${id} is running a turn; its workspace cannot change now`);
    }
    const { session, created } = this.sessions.upsert(id, workspace);
    this.logger.info(created ? 'Session registered' : 'Session updated', { sessionId: id });
    return { session: this.view(session), created };
  }

  getSession(id: string): SessionView | undefined {
    const session = this.sessions.get(id);
    return session === undefined ? undefined : this.view(session);
  }

  listSessions(): SessionView[] {
    return this.sessions.list().map((session) => this.view(session));
  }

  /** Removes a session, aborting its running turn and waiting for it to end. */
  async deleteSession(id: string): Promise<boolean> {
    if (this.sessions.get(id) === undefined) return false;
    const turn = this.turns.get(id);
    if (turn !== undefined) {
      turn.controller.abort(new Error('the session was deleted'));
      await turn.done.catch(() => undefined);
    }
    this.sessions.delete(id);
    this.logger.info('Session removed', { sessionId: id });
    return true;
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

  /** Runs one message in a session: `opencode run` in its workspace, continuing its conversation. */
  async executeInSession(sessionId: string, workspaceDir: string, message: string, options: ExecuteOptions = {}): Promise<TurnResult> {
    const notReady = this.notReadyReason();
    if (notReady !== undefined) {
      throw new OcpmError(this.state === 'unavailable' ? 'opencode_unavailable' : 'not_ready', notReady);
    }
    if (this.turns.has(sessionId)) {
      throw new OcpmError('session_busy', `Session ${sessionId} is already running a turn`);
    }
    const existing = this.sessions.get(sessionId);
    const session = existing?.workspace === workspaceDir ? existing : this.sessions.upsert(sessionId, workspaceDir).session;
    const controller = new AbortController();
    const onCallerAbort = (): void => controller.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onCallerAbort, { once: true });
    if (options.signal?.aborted === true) onCallerAbort();
    const done = this.runTurn(session, message, options, controller.signal);
    this.turns.set(sessionId, { controller, done });
    try {
      return await done;
    } finally {
      options.signal?.removeEventListener('abort', onCallerAbort);
      if (this.turns.get(sessionId)?.done === done) this.turns.delete(sessionId);
    }
  }

  private async runTurn(session: SessionRecord, message: string, options: ExecuteOptions, signal: AbortSignal): Promise<TurnResult> {
    const startedAt = Date.now();
    this.pending += 1;
    this.touch(session, startedAt);
    session.lastMessageAt = startedAt;
    session.messageCount += 1;
    const continuing = session.opencodeSessionId;
    const collector = new RunEventCollector();
    let outcome: CommandOutcome = 'error';
    try {
      const result = await this.executeStandalone(session.workspace, this.runArgs(session, options), {
        stdin: message,
        timeoutMs: options.timeoutMs ?? this.settings.turnTimeoutMs,
        signal,
        sessionId: session.id,
        onStdoutLine: (line) => {
          const event = collector.add(line);
          if (event !== undefined) options.onEvent?.(event);
        },
      });
      const turn = this.toTurnResult(session, result, collector);
      outcome = 'success';
      return turn;
    } catch (error) {
      outcome = error instanceof TurnTimeoutError ? 'timeout' : error instanceof TurnAbortedError ? 'aborted' : 'error';
      if (continuing !== undefined && error instanceof RunFailedError && UNKNOWN_SESSION_PATTERN.test(error.message)) {
        // opencode lost the conversation (its database was reset): start a new one next time.
        session.opencodeSessionId = undefined;
        this.logger.warn('opencode no longer knows this session; the next message starts a new conversation', { sessionId: session.id });
      }
      throw error;
    } finally {
      const seconds = (Date.now() - startedAt) / 1000;
      this.metrics.commands.inc({ mode: 'per-message', outcome });
      this.metrics.commandDuration.observe({ mode: 'per-message', outcome }, seconds);
      this.pending -= 1;
      this.touch(session, Date.now());
    }
  }

  private runArgs(session: SessionRecord, options: ExecuteOptions): string[] {
    const args = ['run', '--format', 'json', '--dir', session.workspace];
    // A title saves opencode an LLM call per new session (facts doc, trap 8).
    if (session.opencodeSessionId === undefined) args.push('--title', `Session ${session.id}`);
    else args.push('--session', session.opencodeSessionId);
    if (options.model !== undefined) args.push('--model', options.model);
    if (options.agent !== undefined) args.push('--agent', options.agent);
    return args;
  }

  private toTurnResult(session: SessionRecord, result: TrackedResult, collector: RunEventCollector): TurnResult {
    const summary = collector.summary;
    const context: RunFailureContext = {
      pid: result.pid,
      exitCode: result.exitCode,
      signal: result.signal,
      durationMs: result.durationMs,
      stderrTail: result.stderrTail,
    };
    if (result.termination === 'timeout') throw new TurnTimeoutError(this.settings.turnTimeoutMs, context);
    if (result.termination === 'abort') throw new TurnAbortedError(describeAbortReason(result.abortReason), context);
    if (summary.opencodeSessionId !== undefined && this.sessions.get(session.id) === session) {
      session.opencodeSessionId = summary.opencodeSessionId;
    }
    const tail = result.stderrTail.slice(-5).join('\n');
    if (summary.errorMessage !== undefined) {
      throw new RunFailedError('opencode_error', `opencode reported an error: ${summary.errorMessage}`, context);
    }
    if (result.exitCode !== 0) {
      const how = result.signal !== null ? `was killed by ${result.signal}` : `exited with code ${String(result.exitCode)}`;
      throw new RunFailedError('opencode_failed', `opencode ${how}${tail === '' ? '' : `: ${tail}`}`, context);
    }
    if (summary.text === '') {
      throw new RunFailedError('empty_response', `opencode finished without an answer (${summary.events} events)`, context);
    }
    return {
      sessionId: session.id,
      text: summary.text,
      opencodeSessionId: summary.opencodeSessionId ?? session.opencodeSessionId,
      mode: 'per-message',
      durationMs: result.durationMs,
      tokens: summary.tokens,
      cost: summary.cost,
      exitCode: result.exitCode,
    };
  }

  /** Spawns one opencode process in a workspace and follows it to the end of its whole tree. */
  async executeStandalone(workspaceDir: string, args: readonly string[], options: StandaloneOptions = {}): Promise<TrackedResult> {
    if (this.binary === undefined) throw new OcpmError('opencode_unavailable', this.notReadyReason() ?? 'opencode is unavailable');
    let child: TrackedChild;
    try {
      child = await spawnTracked({
        file: this.binary.path,
        args,
        cwd: workspaceDir,
        env: this.childEnv,
        ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
        timeoutMs: options.timeoutMs ?? this.settings.turnTimeoutMs,
        killGraceMs: this.settings.killGraceMs,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        ...(options.onStdoutLine === undefined ? {} : { onStdoutLine: options.onStdoutLine }),
      });
    } catch (error) {
      this.metrics.spawns.inc({ kind: 'run', outcome: 'failed' });
      this.logger.error('OpenCode process failed to start', { sessionId: options.sessionId, reason: error instanceof Error ? error.message : String(error) });
      throw error;
    }
    this.metrics.spawns.inc({ kind: 'run', outcome: 'started' });
    this.children.set(child.processId, child);
    this.logger.info('Executing OpenCode command (standalone)', {
      processId: child.processId,
      sessionId: options.sessionId,
      pid: child.pid,
      activeProcesses: this.children.size,
    });
    try {
      const result = await child.done;
      this.logger.info('OpenCode command completed', {
        processId: child.processId,
        duration: result.durationMs,
        exitCode: result.exitCode,
        signal: result.signal,
        termination: result.termination,
        descendantsKilled: result.kill.found,
      });
      if (result.kill.survivors.length > 0) {
        this.logger.error('Processes survived SIGKILL', { processId: child.processId, pids: result.kill.survivors });
      }
      return result;
    } finally {
      this.children.delete(child.processId);
    }
  }

  getStats(now = Date.now()): ManagerStats {
    return {
      available: this.binary !== undefined && this.state !== 'unavailable',
      version: this.binary?.version ?? null,
      runningProcesses: this.children.size,
      activeStreams: this.streams,
      processManager: {
        isRunning: false,
        isReady: this.isReady,
        pendingRequests: this.pending,
        activeSessions: this.sessions.countActive(this.settings.sessionIdleMs, now),
        lastActivity: this.lastActivity,
        idleTime: Math.max(0, now - this.lastActivity),
        mode: 'per-session',
        description: PER_SESSION_DESCRIPTION,
      },
      state: this.state,
      sessions: this.sessions.size,
      serverModeSupported: this.binary?.supportsServe ?? false,
      unavailableReason: this.state === 'unavailable' ? 'opencode binary not found or not working (see the service log)' : null,
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
