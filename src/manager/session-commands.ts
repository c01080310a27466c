// What the web app and the peers do to a session as a whole, each step in the order that keeps it
// consistent: its running turn and queued messages end first, then its warm-up, then what it holds.
import { OcpmError } from '../errors/errors.js';
import type { Logger } from '../logging/logger.js';
import type { SessionRegistry } from '../store/session-registry.js';
import type { TurnStore } from '../store/turn-store.js';
import type { SessionView } from './manager-types.js';
import type { Placement } from './placement/placement.js';
import { resetSession, type SessionResetDeps } from './session-reset.js';
import { exportSession, importSession, type SessionTransfer, type SessionTransferDeps } from './session-transfer.js';
import type { Sessions } from './sessions.js';
import type { TurnAdmission } from './turn-admission.js';
import { resetUsage } from './usage-accounting.js';
import type { WarmUps } from './warm-up.js';

export interface SessionCommandsDeps {
  /** The registered sessions' records (`sessions` applies the rules to them). */
  readonly records: Pick<SessionRegistry, 'get' | 'updateUsage'>;
  readonly sessions: Pick<Sessions, 'upsert' | 'view' | 'remove' | 'purge'>;
  readonly admission: Pick<TurnAdmission, 'abortSession' | 'isBusy'>;
  readonly warmUps: Pick<WarmUps, 'start' | 'settled'>;
  /** The turn history, which a released session leaves. */
  readonly turns: Pick<TurnStore, 'deleteSession'>;
  /** Read at each release: boot chooses the placement after the parts are built. */
  readonly placement: () => Pick<Placement, 'forget'>;
  readonly logger: Pick<Logger, 'info'>;
  /** What a reset uses besides the admission and the warm-ups (see session-reset.ts). */
  readonly reset: Omit<SessionResetDeps, 'admission' | 'warmUps'>;
  /** What an export and an import use (see session-transfer.ts). */
  readonly transfer: SessionTransferDeps;
}

export class SessionCommands {
  constructor(private readonly deps: SessionCommandsDeps) {}

  register(id: string, workspace: string): { session: SessionView; created: boolean } {
    const { session, created } = this.deps.sessions.upsert(id, workspace);
    this.deps.logger.info(created ? 'Session registered' : 'Session updated', { sessionId: id });
    this.deps.warmUps.start(session);
    return { session: this.deps.sessions.view(session), created };
  }

  /** Removes a session once its messages are aborted and its turn ended; `purge` also deletes its workspace, conversation and history. */
  async delete(id: string, options: { purge?: boolean }): Promise<boolean> {
    const { records, sessions, admission, warmUps, logger } = this.deps;
    const session = records.get(id);
    if (session === undefined) return false;
    await admission.abortSession(id, 'the session was deleted');
    await warmUps.settled(id);
    await sessions.remove(session);
    if (options.purge === true) await sessions.purge(session);
    logger.info(options.purge === true ? 'Session purged' : 'Session removed', { sessionId: id });
    return true;
  }

  /** Starts the session's usage (and so its budgets) over; undefined for an unknown session. */
  resetUsage(id: string): SessionView | undefined {
    const { records } = this.deps;
    const session = records.get(id);
    if (session === undefined) return undefined;
    resetUsage({ sessions: records }, session);
    this.deps.logger.info('Session usage reset', { sessionId: id });
    return this.deps.sessions.view(session);
  }

  /** See session-reset.ts; undefined for an unknown id. */
  async reset(id: string): Promise<SessionView | undefined> {
    const { records, admission, warmUps } = this.deps;
    const session = records.get(id);
    if (session === undefined) return undefined;
    await resetSession({ ...this.deps.reset, admission, warmUps }, session);
    return this.deps.sessions.view(session);
  }

  /** The session as a peer needs it to continue (record, history, conversation); see session-transfer.ts. */
  async export(id: string, timeoutMs: number): Promise<SessionTransfer | undefined> {
    const session = this.deps.records.get(id);
    if (session === undefined) return undefined;
    await this.deps.warmUps.settled(id);
    return exportSession(this.deps.transfer, session, timeoutMs);
  }

  /** Takes a session a draining peer handed over. */
  async import(transfer: SessionTransfer, timeoutMs: number): Promise<void> {
    if (this.deps.admission.isBusy(transfer.record.id)) throw new OcpmError('session_busy', `Session ${transfer.record.id} is running a turn here`);
    await importSession(this.deps.transfer, transfer, timeoutMs);
    this.deps.logger.info('Session taken over from a peer', { sessionId: transfer.record.id });
  }

  /**
   * Forgets a session a peer now owns: its record, history and this replica's copy of its conversation
   * (never its workspace).
   */
  async release(id: string): Promise<void> {
    const session = this.deps.records.get(id);
    if (session === undefined) return;
    await this.deps.sessions.remove(session);
    this.deps.turns.deleteSession(id);
    await this.deps.placement().forget(session);
  }
}
