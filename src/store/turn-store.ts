// Recent turns per session, so an answer whose client went away is not lost:
// GET /api/sessions/:id/messages lists them.
import type { Db } from './database.js';

import type { TurnStatus } from '../contracts/vocabulary.js';

export type { TurnStatus } from '../contracts/vocabulary.js';

export interface TurnRecord {
  readonly id: number;
  readonly sessionId: string;
  readonly status: TurnStatus;
  readonly mode: string | null;
  readonly startedAt: number;
  readonly finishedAt: number | null;
  readonly durationMs: number | null;
  readonly text: string | null;
  readonly error: { code: string; message: string } | null;
  readonly tokens: unknown;
  readonly cost: number | null;
  readonly opencodeSessionId: string | null;
}

export interface TurnFinish {
  readonly status: Exclude<TurnStatus, 'running'>;
  readonly mode: string;
  readonly durationMs: number;
  readonly text?: string;
  readonly error?: { code: string; message: string };
  readonly tokens?: unknown;
  readonly cost?: number;
  readonly opencodeSessionId?: string;
}

export interface TurnStore {
  start(sessionId: string, startedAt: number): number;
  finish(id: number, finish: TurnFinish): void;
  list(sessionId: string, limit: number): TurnRecord[];
  /** The latest turns across every session (running ones included), newest first: the operator console's feed. */
  recent(limit: number): TurnRecord[];
  /** Turns left 'running' by a previous run of the service. */
  markInterrupted(): number;
  /** Forgets every turn of a session (a purge, or a session handed to another replica). */
  deleteSession(sessionId: string): void;
  /** Takes the turns of a session handed over by another replica (newest first, as list gives them). */
  adopt(turns: readonly TurnRecord[]): void;
}

/** Turns kept per session; older ones are deleted as new ones finish. */
const KEEP_PER_SESSION = 100;

interface Row {
  id: number;
  session_id: string;
  status: TurnStatus;
  mode: string | null;
  started_at: number;
  finished_at: number | null;
  duration_ms: number | null;
  text: string | null;
  error_code: string | null;
  error_message: string | null;
  tokens: string | null;
  cost: number | null;
  opencode_session_id: string | null;
}

function toRecord(row: Row): TurnRecord {
  return {
    id: row.id,
    sessionId: row.session_id,
    status: row.status,
    mode: row.mode,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    durationMs: row.duration_ms,
    text: row.text,
    error: row.error_code === null ? null : { code: row.error_code, message: row.error_message ?? '' },
    tokens: row.tokens === null ? null : (JSON.parse(row.tokens) as unknown),
    cost: row.cost,
    opencodeSessionId: row.opencode_session_id,
  };
}

export class SqliteTurnStore implements TurnStore {
  // Prepared once: these run on every turn, and preparing costs more than running them.
  private readonly insert;
  private readonly update;
  private readonly trim;
  private readonly finishTx;
  private readonly latest;

  constructor(private readonly db: Db) {
    this.insert = db.prepare("INSERT INTO turns (session_id, status, started_at) VALUES (?, 'running', ?)");
    this.update = db.prepare(
      `UPDATE turns SET status = ?, mode = ?, finished_at = ?, duration_ms = ?, text = ?, error_code = ?, error_message = ?,
         tokens = ?, cost = ?, opencode_session_id = ? WHERE id = ?`,
    );
    this.trim = db.prepare(
      `DELETE FROM turns WHERE session_id = (SELECT session_id FROM turns WHERE id = ?)
         AND id NOT IN (SELECT id FROM turns WHERE session_id = (SELECT session_id FROM turns WHERE id = ?) ORDER BY id DESC LIMIT ?)`,
    );
    // By the primary key: cheap whatever the number of sessions (the console asks every second).
    this.latest = db.prepare('SELECT * FROM turns ORDER BY id DESC LIMIT ?');
    this.finishTx = db.transaction((id: number, f: TurnFinish) => {
      this.update.run(
        f.status,
        f.mode,
        Date.now(),
        f.durationMs,
        f.text ?? null,
        f.error?.code ?? null,
        f.error?.message ?? null,
        f.tokens === undefined ? null : JSON.stringify(f.tokens),
        f.cost ?? null,
        f.opencodeSessionId ?? null,
        id,
      );
      this.trim.run(id, id, KEEP_PER_SESSION);
    });
  }

  start(sessionId: string, startedAt: number): number {
    return Number(this.insert.run(sessionId, startedAt).lastInsertRowid);
  }

  finish(id: number, f: TurnFinish): void {
    this.finishTx(id, f);
  }

  list(sessionId: string, limit: number): TurnRecord[] {
    const rows = this.db.prepare('SELECT * FROM turns WHERE session_id = ? ORDER BY id DESC LIMIT ?').all(sessionId, limit) as Row[];
    return rows.map(toRecord);
  }

  recent(limit: number): TurnRecord[] {
    return (this.latest.all(limit) as Row[]).map(toRecord);
  }

  markInterrupted(): number {
    return this.db
      .prepare(
        "UPDATE turns SET status = 'interrupted', error_code = 'interrupted', error_message = 'The service stopped during the turn' WHERE status = 'running'",
      )
      .run().changes;
  }

  adopt(turns: readonly TurnRecord[]): void {
    const insert = this.db.prepare(
      `INSERT INTO turns (session_id, status, mode, started_at, finished_at, duration_ms, text, error_code, error_message, tokens, cost, opencode_session_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.db.transaction(() => {
      for (const t of [...turns].reverse()) {
        insert.run(
          t.sessionId,
          t.status,
          t.mode,
          t.startedAt,
          t.finishedAt,
          t.durationMs,
          t.text,
          t.error?.code ?? null,
          t.error?.message ?? null,
          t.tokens === null ? null : JSON.stringify(t.tokens),
          t.cost,
          t.opencodeSessionId,
        );
      }
    })();
  }

  deleteSession(sessionId: string): void {
    this.db.prepare('DELETE FROM turns WHERE session_id = ?').run(sessionId);
    // secure_delete zeroes the freed pages; the checkpoint moves them out of the WAL file.
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }
}

export class MemoryTurnStore implements TurnStore {
  private readonly turns: Array<TurnRecord & { status: TurnStatus }> = [];
  start(sessionId: string, startedAt: number): number {
    const id = this.turns.length + 1;
    this.turns.push({
      id,
      sessionId,
      status: 'running',
      mode: null,
      startedAt,
      finishedAt: null,
      durationMs: null,
      text: null,
      error: null,
      tokens: null,
      cost: null,
      opencodeSessionId: null,
    });
    return id;
  }
  finish(id: number, f: TurnFinish): void {
    const at = this.turns.findIndex((t) => t.id === id);
    const turn = this.turns[at];
    if (turn === undefined) return;
    this.turns[at] = {
      ...turn,
      status: f.status,
      mode: f.mode,
      finishedAt: Date.now(),
      durationMs: f.durationMs,
      text: f.text ?? null,
      error: f.error ?? null,
      tokens: f.tokens ?? null,
      cost: f.cost ?? null,
      opencodeSessionId: f.opencodeSessionId ?? null,
    };
  }
  list(sessionId: string, limit: number): TurnRecord[] {
    return this.turns
      .filter((t) => t.sessionId === sessionId)
      .reverse()
      .slice(0, limit);
  }
  recent(limit: number): TurnRecord[] {
    return this.turns.slice(-limit).reverse();
  }
  markInterrupted(): number {
    return 0;
  }
  adopt(turns: readonly TurnRecord[]): void {
    for (const t of [...turns].reverse()) this.turns.push({ ...t, id: this.turns.length + 1 });
  }
  deleteSession(sessionId: string): void {
    for (let i = this.turns.length - 1; i >= 0; i -= 1) if (this.turns[i]?.sessionId === sessionId) this.turns.splice(i, 1);
  }
}
