// What the web app and the peers do to a session as a whole, each step in the order that keeps it
// consistent: its running turn and queued messages end first, then its warm-up, then what it holds.
import { OcpmError } from '../errors/errors.js';
import type { ManagerCore } from './manager-core.js';
import type { SessionView } from './manager-types.js';
import { resetSession } from './session-reset.js';
import { exportSession, importSession, type SessionTransfer } from './session-transfer.js';
import type { Sessions } from './sessions.js';
import type { TurnAdmission } from './turn-admission.js';
import { resetUsage } from './usage-accounting.js';
import type { WarmUps } from './warm-up.js';

export class SessionCommands {
  constructor(
    private readonly core: ManagerCore,
    private readonly sessions: Sessions,
    private readonly admission: TurnAdmission,
    private readonly warmUps: WarmUps,
  ) {}

  register(id: string, workspace: string): { session: SessionView; created: boolean } {
    const { session, created } = this.sessions.upsert(id, workspace);
    this.core.logger.info(created ? 'Session registered' : 'Session updated', { sessionId: id });
    this.warmUps.start(session);
    return { session: this.sessions.view(session), created };
  }

  /** Removes a session once its messages are aborted and its turn ended; `purge` also deletes its workspace, conversation and history. */
  async delete(id: string, options: { purge?: boolean }): Promise<boolean> {
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

  /** See session-reset.ts; undefined for an unknown id. */
  async reset(id: string): Promise<SessionView | undefined> {
    const session = this.core.sessions.get(id);
    if (session === undefined) return undefined;
    await resetSession({ core: this.core, admission: this.admission, warmUps: this.warmUps }, session);
    return this.sessions.view(session);
  }

  /** The session as a peer needs it to continue (record, history, conversation); see session-transfer.ts. */
  async export(id: string, timeoutMs: number): Promise<SessionTransfer | undefined> {
    const session = this.core.sessions.get(id);
    if (session === undefined) return undefined;
    await this.warmUps.settled(id);
    return exportSession(this.core, session, timeoutMs);
  }

  /** Takes a session a draining peer handed over. */
  async import(transfer: SessionTransfer, timeoutMs: number): Promise<void> {
    if (this.admission.isBusy(transfer.record.id)) throw new OcpmError('session_busy', `Session ${transfer.record.id} is running a turn here`);
    await importSession(this.core, transfer, timeoutMs);
    this.core.logger.info('Session taken over from a peer', { sessionId: transfer.record.id });
  }

  /**
   * Forgets a session a peer now owns: its record, history and this replica's copy of its conversation
   * (never its workspace).
   */
  async release(id: string): Promise<void> {
    const session = this.core.sessions.get(id);
    if (session === undefined) return;
    await this.sessions.remove(session);
    this.core.registry.turns.deleteSession(id);
    await this.core.placement.forget(session);
  }
}
