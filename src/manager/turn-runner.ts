// One turn of a session, once admitted: where it runs (its server instance, or per-message when no
// instance can serve, or when the instance turns out dead before it took the message), what it
// changes on the session (saved as soon as known), and its record: registry row, metrics, log line.
import os from 'node:os';
import path from 'node:path';
import { OcpmError, RunFailedError, TurnAbortedError, TurnStalledError, TurnTimeoutError } from '../errors/errors.js';
import type { Logger } from '../logging/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Session, SessionRegistry } from '../store/session-registry.js';
import type { TurnStore } from '../store/turn-store.js';
import type { TokenUsage } from '../usage/usage.js';
import { errorMessage } from '../util/guards.js';
import { pathHider } from '../util/hide-host-paths.js';
import type { Activity } from './activity.js';
import type { DiskGuard } from './isolation/disk-guard.js';
import type { ExecuteOptions, ManagerSettings } from './manager-types.js';
import { DataHomeGate } from './per-message/data-home-gate.js';
import { runPerMessageTurn } from './per-message/per-message-turn.js';
import type { Placement } from './placement/placement.js';
import { InstanceUnreachableError } from './server/server-instance.js';
import type { Lease } from './server/server-pool.js';
import { runServerTurn } from './server/server-turn.js';
import type { Standalone } from './standalone.js';
import type { TurnMode, TurnOutcome, TurnResult } from './turn.js';
import { beginTurnUsage, settleTurnUsage, type UsageAccountingDeps } from './usage-accounting.js';
import { inBackground } from '../util/housekeeping.js';
import type { UserRequests } from './user-requests/user-requests.js';
import type { WarmUps } from './warm-up.js';

export interface TurnRunnerDeps extends Pick<UsageAccountingDeps, 'catalog' | 'gateway'> {
  /** Read at each turn: boot chooses the placement after the parts are built. */
  readonly placement: () => Pick<Placement, 'mode' | 'prepareTurn' | 'lease' | 'dataHome' | 'launch'>;
  readonly sessions: Pick<SessionRegistry, 'beginTurn' | 'setConversation' | 'touch' | 'updateUsage'>;
  /** The turn history: a row per turn. */
  readonly turns: Pick<TurnStore, 'start' | 'finish'>;
  readonly activity: Pick<Activity, 'touch'>;
  readonly userRequests: Pick<UserRequests, 'forTurn'>;
  readonly warmUps: Pick<WarmUps, 'conversationReady'>;
  /** A per-message turn's opencode run. */
  readonly standalone: Standalone;
  /** With a session disk limit: the workspace is measured after each turn. */
  readonly diskGuard: Pick<DiskGuard, 'measure'> | undefined;
  /** Turn and usage counters, and the housekeeping errors of the disk check. */
  readonly metrics: Pick<Metrics, 'commands' | 'commandDuration' | 'usage' | 'housekeepingErrors'>;
  readonly logger: Logger;
  readonly turnSettings: Pick<ManagerSettings['turns'], 'turnTimeoutMs' | 'stallTimeoutMs' | 'permissionPolicy' | 'permissionTimeoutMs'>;
  readonly killGraceMs: number;
  readonly serverStartTimeoutMs: number;
  /** The service's data dir, hidden from what the client sees. */
  readonly dataDir: string;
}

/** Errors opencode prints when `--session` names a conversation its database does not have. */
const UNKNOWN_SESSION_PATTERN = /session.*not\s*found|NotFoundError/i;

export class TurnRunner {
  private readonly dataHomeGate = new DataHomeGate();

  constructor(private readonly deps: TurnRunnerDeps) {}

  countTurn(mode: TurnMode, outcome: TurnOutcome, startedAt: number): void {
    this.deps.metrics.commands.inc({ mode, outcome });
    this.deps.metrics.commandDuration.observe({ mode, outcome }, (Date.now() - startedAt) / 1000);
  }

  async run(session: Session, message: string, options: ExecuteOptions, signal: AbortSignal): Promise<TurnResult> {
    const { deps } = this;
    const placement = deps.placement();
    const startedAt = Date.now();
    deps.activity.touch(startedAt);
    deps.sessions.beginTurn(session, startedAt);
    const turnId = deps.turns.start(session.id, startedAt);
    let mode: TurnMode = placement.mode;
    let outcome: TurnOutcome = 'error';
    let errorCode: string | undefined;
    let failureReason: string | undefined;
    let lease: Lease | undefined;
    // The last usage opencode reported for the turn: a failed turn counts what it used too.
    let used: { tokens: TokenUsage; cost: number } | undefined;
    beginTurnUsage(deps, session);
    try {
      await deps.warmUps.conversationReady(session.id);
      await placement.prepareTurn(session);
      lease = await placement.lease(session, signal);
      const routed = await this.route(session, message, options, signal, lease, (tokens, cost) => (used = { tokens, cost }));
      mode = routed.mode;
      outcome = 'success';
      const usage = settleTurnUsage(deps, session, options.model, { tokens: routed.tokens, cost: routed.cost }) ?? { tokens: routed.tokens, cost: routed.cost };
      deps.turns.finish(turnId, {
        status: 'success',
        mode,
        durationMs: Date.now() - startedAt,
        text: routed.text,
        tokens: usage.tokens,
        cost: usage.cost,
        ...(routed.opencodeSessionId === undefined ? {} : { opencodeSessionId: routed.opencodeSessionId }),
      });
      return { sessionId: session.id, ...routed, tokens: usage.tokens, cost: usage.cost };
    } catch (error) {
      if (error instanceof RoutedError) mode = error.mode;
      const usage = settleTurnUsage(deps, session, options.model, used);
      // The gateway refused one of the turn's model calls: that, not opencode's report of it, is why it ended.
      const cause =
        usage?.refusal !== undefined
          ? new OcpmError('budget_exceeded', `The turn stopped: ${usage.refusal}; POST /api/sessions/${session.id}/usage/reset starts it over`)
          : error instanceof RoutedError
            ? error.cause
            : error;
      outcome = cause instanceof TurnTimeoutError || cause instanceof TurnStalledError ? 'timeout' : cause instanceof TurnAbortedError ? 'aborted' : 'error';
      errorCode = cause instanceof OcpmError ? cause.code : 'internal_error';
      failureReason = errorMessage(cause);
      if (mode === 'per-message' && session.opencodeSessionId !== undefined && cause instanceof RunFailedError && UNKNOWN_SESSION_PATTERN.test(cause.message)) {
        // opencode lost the conversation (its database was reset): start a new one next time.
        deps.sessions.setConversation(session, undefined);
        deps.logger.warn('opencode no longer knows this session; the next message starts a new conversation', { sessionId: session.id });
      }
      deps.turns.finish(turnId, {
        status: outcome,
        mode,
        durationMs: Date.now() - startedAt,
        ...(usage === undefined ? {} : { tokens: usage.tokens, cost: usage.cost }),
        error: cause instanceof OcpmError ? { code: cause.code, message: cause.message } : { code: 'internal_error', message: 'Internal error' },
      });
      throw cause;
    } finally {
      lease?.release();
      this.countTurn(mode, outcome, startedAt);
      // One line per turn in both modes (never the message text: it is the user's); a failure at warn, with opencode's reason.
      const fields = { sessionId: session.id, mode, outcome, durationMs: Date.now() - startedAt };
      if (errorCode === undefined) deps.logger.info('Turn finished', fields);
      else deps.logger.warn('Turn failed', { ...fields, errorCode, reason: failureReason });
      const endedAt = Date.now();
      deps.activity.touch(endedAt);
      deps.sessions.touch(session, endedAt);
      const { diskGuard } = deps;
      if (diskGuard !== undefined) inBackground(deps, 'disk_check', () => diskGuard.measure(session.id, session.workspace), { sessionId: session.id });
    }
  }

  /** Runs the turn on the leased instance, or per-message; errors carry the mode they ran in. */
  private async route(
    session: Session,
    message: string,
    options: ExecuteOptions,
    signal: AbortSignal,
    lease: Lease | undefined,
    onUsage: (tokens: TokenUsage, cost: number) => void,
  ): Promise<Omit<TurnResult, 'sessionId'>> {
    const { deps } = this;
    const common = {
      onUsage,
      session: { id: session.id, workspace: session.workspace, opencodeSessionId: session.opencodeSessionId },
      message,
      model: options.model,
      agent: options.agent,
      signal,
      timeoutMs: options.timeoutMs ?? deps.turnSettings.turnTimeoutMs,
      stallTimeoutMs: deps.turnSettings.stallTimeoutMs,
      onEvent: options.onEvent === undefined ? undefined : this.eventRelay(session, options.onEvent),
      requests: deps.userRequests.forTurn(session.id, {
        policy: deps.turnSettings.permissionPolicy,
        timeoutMs: deps.turnSettings.permissionTimeoutMs,
        present: this.hostPathHider(session),
        ...(options.onUserRequest === undefined ? {} : { notify: options.onUserRequest }),
      }),
      onConversation: (opencodeSessionId: string): void => deps.sessions.setConversation(session, opencodeSessionId),
    };
    const perMessage = async (): Promise<Omit<TurnResult, 'sessionId'>> => {
      const dataHome = deps.placement().dataHome(session);
      const launch = await deps.placement().launch(session);
      try {
        return await runPerMessageTurn({
          ...common,
          execute: (args, stdin, onStdoutLine) =>
            this.dataHomeGate.run(dataHome, () =>
              deps.standalone(session.workspace, args, {
                stdin,
                timeoutMs: common.timeoutMs,
                stallTimeoutMs: common.stallTimeoutMs,
                signal,
                sessionId: session.id,
                onStdoutLine,
                ...launch,
              }),
            ),
        });
      } catch (error) {
        throw new RoutedError('per-message', error);
      }
    };
    if (lease === undefined) return perMessage();
    try {
      return await runServerTurn({
        ...common,
        instance: lease.instance,
        abortGraceMs: deps.killGraceMs,
        createTimeoutMs: deps.serverStartTimeoutMs,
        logger: deps.logger,
      });
    } catch (error) {
      if (!(error instanceof InstanceUnreachableError)) throw new RoutedError('server', error);
      // The instance died before it took the message: run it per-message instead of failing it.
      deps.logger.warn('Server instance unreachable; running this message per-message', { sessionId: session.id, error: error.message });
      return perMessage();
    }
  }

  /**
   * Events as the client sees them: paths relative to the session's workspace, host paths (the
   * service's checkout and data dir, other workspaces, private TMPDIRs) hidden.
   */
  private eventRelay<E>(session: Session, onEvent: (event: E) => void): (event: E) => void {
    const hide = this.hostPathHider(session);
    return (event) => onEvent(hide(event));
  }

  /** Built on first use: most turns ask nobody anything, and the regular expressions cost a compile. */
  private hostPathHider(session: Session): <T>(value: T) => T {
    let hide: ReturnType<typeof pathHider> | undefined;
    return <T>(value: T): T => {
      hide ??= pathHider(session.workspace, [this.deps.dataDir, path.dirname(session.workspace), process.cwd(), path.join(os.tmpdir(), 'ocpm-child-')]);
      return hide(value) as T;
    };
  }
}

/** A turn's failure with the mode it ran in (server, or per-message after a fallback). */
class RoutedError extends Error {
  constructor(
    readonly mode: TurnMode,
    override readonly cause: unknown,
  ) {
    super('turn failed');
  }
}
