// Copying an isolated session's opencode database to another replica: a consistent copy while
// another connection holds the database open in WAL mode, installed without the old log.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { copyConversationDatabase, installConversationDatabase } from '../../src/manager/isolation/conversation-database.js';
import { makeTempDir } from '../helpers/fixtures.js';

describe('conversation database copy', () => {
  it('copies what an open WAL database holds, and installs it in place of another', async () => {
    const { dir, remove } = await makeTempDir('convdb');
    try {
      const source = path.join(dir, 'a');
      await mkdir(path.join(source, 'opencode'), { recursive: true });
      const open = new Database(path.join(source, 'opencode', 'opencode.db'));
      open.pragma('journal_mode = WAL');
      open.exec("CREATE TABLE message (id TEXT, text TEXT); INSERT INTO message VALUES ('m1', 'hello'), ('m2', 'again')");
      assert.ok(existsSync(path.join(source, 'opencode', 'opencode.db-wal')), 'the rows are still in the write-ahead log');
      const copy = await copyConversationDatabase(source);
      open.close();
      assert.ok(copy !== undefined);

      const target = path.join(dir, 'b');
      await mkdir(path.join(target, 'opencode'), { recursive: true });
      await writeFile(path.join(target, 'opencode', 'opencode.db-wal'), 'stale');
      await installConversationDatabase(target, copy);
      assert.equal(existsSync(path.join(target, 'opencode', 'opencode.db-wal')), false);
      const installed = new Database(path.join(target, 'opencode', 'opencode.db'), { readonly: true });
      assert.deepEqual(installed.prepare('SELECT id, text FROM message ORDER BY id').all(), [
        { id: 'm1', text: 'hello' },
        { id: 'm2', text: 'again' },
      ]);
      installed.close();
      assert.equal(await copyConversationDatabase(path.join(dir, 'none')), undefined, 'no database: nothing to copy');
    } finally {
      await remove();
    }
  });
});
