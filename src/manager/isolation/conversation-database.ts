// An isolated session's whole opencode state is one SQLite database in its own home: handing the
// session to another replica can copy that file instead of running `opencode export` and `import`
// (each an opencode start, seconds in a sandbox). The copy is `VACUUM INTO`: a consistent snapshot
// even while the session's `opencode serve` has the database open.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';

/** Larger databases go the `opencode export` way (the transfer's body has a limit). */
const MAX_DATABASE_BYTES = 32 * 1024 * 1024;

const databaseFile = (dataHome: string): string => path.join(dataHome, 'opencode', 'opencode.db');

/** The session's database as base64, or undefined when it has none (or too large a one). */
export async function copyConversationDatabase(dataHome: string): Promise<string | undefined> {
  const file = databaseFile(dataHome);
  if (!existsSync(file)) return undefined;
  const copy = path.join(dataHome, `ocpm-handoff-${randomUUID()}.db`);
  try {
    const db = new Database(file, { fileMustExist: true });
    try {
      db.prepare('VACUUM INTO ?').run(copy);
    } finally {
      db.close();
    }
    const bytes = await readFile(copy);
    return bytes.length > MAX_DATABASE_BYTES ? undefined : bytes.toString('base64');
  } finally {
    await rm(copy, { force: true });
  }
}

/** Puts a handed-over database in place as the data dir's opencode database. */
export async function installConversationDatabase(dataHome: string, base64: string): Promise<void> {
  const file = databaseFile(dataHome);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  // A stale write-ahead log of an earlier database must not be replayed onto this one.
  await rm(`${file}-wal`, { force: true });
  await rm(`${file}-shm`, { force: true });
  await writeFile(file, Buffer.from(base64, 'base64'), { mode: 0o600 });
}
