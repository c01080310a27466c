// The service's SQLite registry (better-sqlite3) in OCPM_DATA_DIR: sessions, every process the
// service started, and recent turns. A database that cannot be opened or fails its integrity check
// stops boot with a clear message instead of silently starting empty.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { errorMessage } from '../util/guards.js';

export type Db = Database.Database;

export class RegistryError extends Error {
  override readonly name = 'RegistryError';
}

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE sessions (
     id TEXT PRIMARY KEY,
     workspace TEXT NOT NULL,
     opencode_session_id TEXT,
     slot INTEGER,
     message_count INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL,
     last_activity INTEGER NOT NULL,
     last_message_at INTEGER
   );
   CREATE TABLE processes (
     process_id TEXT PRIMARY KEY,
     pid INTEGER NOT NULL,
     pgid INTEGER NOT NULL,
     start_time INTEGER NOT NULL,
     cmdline TEXT NOT NULL,
     kind TEXT NOT NULL,
     started_at INTEGER NOT NULL
   );
   CREATE TABLE turns (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     session_id TEXT NOT NULL,
     status TEXT NOT NULL,
     mode TEXT,
     started_at INTEGER NOT NULL,
     finished_at INTEGER,
     duration_ms INTEGER,
     text TEXT,
     error_code TEXT,
     error_message TEXT,
     tokens TEXT,
     cost REAL,
     opencode_session_id TEXT
   );
   CREATE INDEX turns_by_session ON turns (session_id, id);`,
  // Token and cost totals per session (JSON: see SessionUsage); NULL for sessions from before it.
  `ALTER TABLE sessions ADD COLUMN usage TEXT;`,
];

export const REGISTRY_FILE = 'registry.sqlite';

/** Opens (creating if needed) and migrates the registry; throws RegistryError when it is unusable. */
export function openRegistry(dataDir: string): Db {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, REGISTRY_FILE);
  let db: Db | undefined;
  try {
    db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    // Deleted rows (a purged session's answers) are overwritten, not left in free pages.
    db.pragma('secure_delete = ON');
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new Error(`integrity check: ${String(check)}`);
    migrate(db);
    return db;
  } catch (error) {
    db?.close();
    const reason = errorMessage(error);
    throw new RegistryError(
      `The registry database ${file} cannot be used (${reason}). Nothing was changed; move the file aside to start with an empty registry, or restore it from a backup.`,
    );
  }
}

function migrate(db: Db): void {
  const version = Number(db.pragma('user_version', { simple: true }));
  if (version > MIGRATIONS.length) throw new Error(`schema version ${version} is newer than this service knows (${MIGRATIONS.length})`);
  db.transaction(() => {
    for (let next = version; next < MIGRATIONS.length; next += 1) {
      db.exec(MIGRATIONS[next]!);
      db.pragma(`user_version = ${next + 1}`);
    }
  })();
}
