// Sessions the web app registered: its id -> workspace, the opencode session that carries the
// conversation, and activity. Kept in memory for the hot path, written through to the store.
import { emptyUsage } from '../usage/usage.js';
import { MemorySessionStore, type SessionRecord, type SessionStore } from './session-store.js';

export type { SessionRecord } from './session-store.js';

export class SessionRegistry {
  private readonly sessions = new Map<string, SessionRecord>();

  /** Loads every stored session; each change is written through to the store. */
  constructor(private readonly store: SessionStore = new MemorySessionStore()) {
    for (const session of store.loadAll()) this.sessions.set(session.id, session);
  }

  /** Writes a session's current fields to the store (after the caller changed them). */
  save(session: SessionRecord): void {
    if (this.sessions.get(session.id) === session) this.store.save(session);
  }

  /** Creates or updates; a new workspace starts a new conversation (opencode sessions are per directory). */
  upsert(id: string, workspace: string, now = Date.now()): { session: SessionRecord; created: boolean } {
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
  adopt(record: SessionRecord): SessionRecord {
    this.sessions.set(record.id, record);
    this.store.save(record);
    return record;
  }

  get(id: string): SessionRecord | undefined {
    return this.sessions.get(id);
  }

  list(): SessionRecord[] {
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
}
