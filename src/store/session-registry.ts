// Sessions the web app registered: its id -> workspace, the opencode session that carries the
// conversation, its pool slot, usage and activity. Kept in memory for the hot path and written
// through to the store. This registry is the only writer of a session: everyone else reads
// `Session` (read-only) and changes one through an intent method below, which persists it.
import { emptyUsage, type SessionUsage } from '../usage/usage.js';
import { MemorySessionStore, type SessionRecord, type SessionStore } from './session-store.js';

export type { SessionRecord } from './session-store.js';

/** A session as its readers see it; changes go through the registry's intent methods. */
export type Session = Readonly<SessionRecord>;

export class SessionRegistry {
  private readonly sessions = new Map<string, SessionRecord>();

  /** Loads every stored session; each change is written through to the store. */
  constructor(private readonly store: SessionStore = new MemorySessionStore()) {
    for (const session of store.loadAll()) this.sessions.set(session.id, session);
  }

  /** Creates or updates; a new workspace starts a new conversation (opencode sessions are per directory). */
  upsert(id: string, workspace: string, now = Date.now()): { session: Session; created: boolean } {
    const existing = this.sessions.get(id);
    if (existing !== undefined) {
      if (existing.workspace !== workspace) {
        existing.workspace = workspace;
        existing.opencodeSessionId = undefined;
      }
      existing.lastActivity = now;
      this.store.save(existing);
      return { session: existing, created: false };
    }
    const session: SessionRecord = {
      id,
      workspace,
      opencodeSessionId: undefined,
      messageCount: 0,
      createdAt: now,
      lastActivity: now,
      lastMessageAt: undefined,
      slot: undefined,
      usage: emptyUsage(),
    };
    this.sessions.set(id, session);
    this.store.save(session);
    return { session, created: true };
  }

  /** Takes a whole record handed over by another replica (replacing any stale one of the same id). */
  adopt(record: SessionRecord): Session {
    this.sessions.set(record.id, record);
    this.store.save(record);
    return record;
  }

  /** A message starts its turn. */
  beginTurn(session: Session, at: number): void {
    this.change(session, (record) => {
      record.lastMessageAt = at;
      record.lastActivity = at;
      record.messageCount += 1;
    });
  }

  /** The session did something (a turn ended). */
  touch(session: Session, at: number): void {
    this.change(session, (record) => {
      record.lastActivity = at;
    });
  }

  /** The opencode session that carries the conversation; undefined starts a new one at the next message. */
  setConversation(session: Session, opencodeSessionId: string | undefined): void {
    this.change(session, (record) => {
      record.opencodeSessionId = opencodeSessionId;
    });
  }

  /** The pool slot the session is pinned to; undefined lets its next use choose again. */
  pinSlot(session: Session, slot: number | undefined): void {
    this.change(session, (record) => {
      record.slot = slot;
    });
  }

  /** Replaces the session's usage with what `next` makes of it (a turn or call added, or a reset). */
  updateUsage(session: Session, next: (usage: SessionUsage) => SessionUsage): void {
    this.change(session, (record) => {
      record.usage = next(record.usage);
    });
  }

  get(id: string): Session | undefined {
    return this.sessions.get(id);
  }

  list(): Session[] {
    return [...this.sessions.values()];
  }

  delete(id: string): boolean {
    this.store.delete(id);
    return this.sessions.delete(id);
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Sessions that had a message within the last `idleMs`. */
  countActive(idleMs: number, now = Date.now()): number {
    let count = 0;
    for (const session of this.sessions.values()) {
      if (session.lastMessageAt !== undefined && now - session.lastMessageAt <= idleMs) count += 1;
    }
    return count;
  }

  /**
   * Applies a change to the record and persists it. A record deleted meanwhile (or replaced by a new
   * session of the same id) is changed in memory only: what its last turn learns is not lost to that
   * turn, and never written over the new session.
   */
  private change(session: Session, apply: (record: SessionRecord) => void): void {
    const record = session as SessionRecord;
    apply(record);
    if (this.sessions.get(session.id) === record) this.store.save(record);
  }
}
