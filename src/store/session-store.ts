// Persists session records: the manager writes each change through, and loads them all at boot.
import { emptyUsage, usageFrom, type SessionUsage } from '../usage/usage.js';
import type { Db } from './database.js';

export interface SessionRecord {
  readonly id: string;
  workspace: string;
  /** Set by the first run that reported one; later runs pass it with --session. */
  opencodeSessionId: string | undefined;
  messageCount: number;
  readonly createdAt: number;
  lastActivity: number;
  /** When the last message started; undefined until the first one. */
  lastMessageAt: number | undefined;
  /** The pool slot the session is pinned to (its opencode data dir); undefined until first use. */
  slot: number | undefined;
  /** Tokens, cost and turns since creation or the last usage reset. */
  usage: SessionUsage;
}

interface SessionRow {
  id: string;
  workspace: string;
  opencode_session_id: string | null;
  slot: number | null;
  message_count: number;
  created_at: number;
  last_activity: number;
  last_message_at: number | null;
  usage: string | null;
}

export interface SessionStore {
  loadAll(): SessionRecord[];
  save(session: SessionRecord): void;
  delete(id: string): void;
}

export class SqliteSessionStore implements SessionStore {
  private readonly upsert;
  private readonly remove;

  constructor(private readonly db: Db) {
    this.upsert = db.prepare(
      `INSERT INTO sessions (id, workspace, opencode_session_id, slot, message_count, created_at, last_activity, last_message_at, usage)
       VALUES (@id, @workspace, @opencode_session_id, @slot, @message_count, @created_at, @last_activity, @last_message_at, @usage)
       ON CONFLICT (id) DO UPDATE SET workspace = excluded.workspace, opencode_session_id = excluded.opencode_session_id,
         slot = excluded.slot, message_count = excluded.message_count, last_activity = excluded.last_activity,
         last_message_at = excluded.last_message_at, usage = excluded.usage`,
    );
    this.remove = db.prepare('DELETE FROM sessions WHERE id = ?');
  }

  loadAll(): SessionRecord[] {
    const rows = this.db.prepare('SELECT * FROM sessions').all() as SessionRow[];
    return rows.map((row) => ({
      id: row.id,
      workspace: row.workspace,
      opencodeSessionId: row.opencode_session_id ?? undefined,
      slot: row.slot ?? undefined,
      messageCount: row.message_count,
      createdAt: row.created_at,
      lastActivity: row.last_activity,
      lastMessageAt: row.last_message_at ?? undefined,
      usage: row.usage === null ? emptyUsage() : usageFrom(JSON.parse(row.usage)),
    }));
  }

  save(session: SessionRecord): void {
    this.upsert.run({
      id: session.id,
      workspace: session.workspace,
      opencode_session_id: session.opencodeSessionId ?? null,
      slot: session.slot ?? null,
      message_count: session.messageCount,
      created_at: session.createdAt,
      last_activity: session.lastActivity,
      last_message_at: session.lastMessageAt ?? null,
      usage: JSON.stringify(session.usage),
    });
  }

  delete(id: string): void {
    this.db.transaction(() => {
      this.remove.run(id);
      this.db.prepare('DELETE FROM turns WHERE session_id = ?').run(id);
    })();
  }
}

/** For an embedded manager without a data dir: nothing survives the process. */
export class MemorySessionStore implements SessionStore {
  loadAll(): SessionRecord[] {
    return [];
  }
  save(): void {}
  delete(): void {}
}
