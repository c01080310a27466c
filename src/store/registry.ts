// The durable registry as one object: sessions, processes and turns, in SQLite (the service) or in
// memory (an embedded manager that was given no data dir).
import { openRegistry } from './database.js';
import { MemoryProcessStore, SqliteProcessStore, type ProcessStore } from './process-store.js';
import { MemorySessionStore, SqliteSessionStore, type SessionStore } from './session-store.js';
import { MemoryTurnStore, SqliteTurnStore, type TurnStore } from './turn-store.js';

export interface Registry {
  readonly sessions: SessionStore;
  readonly processes: ProcessStore;
  readonly turns: TurnStore;
  close(): void;
}

/** Throws RegistryError when the database is unusable (boot must stop). */
export function openSqliteRegistry(dataDir: string): Registry {
  const db = openRegistry(dataDir);
  return {
    sessions: new SqliteSessionStore(db),
    processes: new SqliteProcessStore(db),
    turns: new SqliteTurnStore(db),
    close: () => db.close(),
  };
}

export function memoryRegistry(): Registry {
  return { sessions: new MemorySessionStore(), processes: new MemoryProcessStore(), turns: new MemoryTurnStore(), close: () => undefined };
}
