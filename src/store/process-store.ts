// Every process the service starts, recorded at spawn and removed when its tree is gone, so the next
// boot after a crash can find what was left behind. A row names one process by pid + start time +
// command line: a reused pid never matches all three.
import type { Db } from './database.js';

/** run: one per message; serve: a server instance; probe: `opencode --version` and the like. */
export const PROCESS_KINDS = ['run', 'cli', 'serve', 'probe'] as const;
export type ProcessKind = (typeof PROCESS_KINDS)[number];

export interface ProcessRow {
  readonly processId: string;
  readonly pid: number;
  readonly pgid: number;
  readonly startTime: number;
  readonly cmdline: string;
  readonly kind: ProcessKind;
  readonly startedAt: number;
}

export interface ProcessStore {
  add(row: ProcessRow): void;
  remove(processId: string): void;
  list(): ProcessRow[];
}

interface Row {
  process_id: string;
  pid: number;
  pgid: number;
  start_time: number;
  cmdline: string;
  kind: ProcessRow['kind'];
  started_at: number;
}

export class SqliteProcessStore implements ProcessStore {
  private readonly insert;
  private readonly delete;

  constructor(private readonly db: Db) {
    this.insert = db.prepare('INSERT OR REPLACE INTO processes (process_id, pid, pgid, start_time, cmdline, kind, started_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.delete = db.prepare('DELETE FROM processes WHERE process_id = ?');
  }

  add(row: ProcessRow): void {
    this.insert.run(row.processId, row.pid, row.pgid, row.startTime, row.cmdline, row.kind, row.startedAt);
  }

  remove(processId: string): void {
    this.delete.run(processId);
  }

  list(): ProcessRow[] {
    return (this.db.prepare('SELECT * FROM processes').all() as Row[]).map((row) => ({
      processId: row.process_id,
      pid: row.pid,
      pgid: row.pgid,
      startTime: row.start_time,
      cmdline: row.cmdline,
      kind: row.kind,
      startedAt: row.started_at,
    }));
  }
}

export class MemoryProcessStore implements ProcessStore {
  private readonly rows = new Map<string, ProcessRow>();
  add(row: ProcessRow): void {
    this.rows.set(row.processId, row);
  }
  remove(processId: string): void {
    this.rows.delete(processId);
  }
  list(): ProcessRow[] {
    return [...this.rows.values()];
  }
}
