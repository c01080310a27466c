// The SQLite registry on real files: sessions survive a reopen, turns are listed newest first and
// interrupted ones are marked, and a corrupt file stops boot with a clear error.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REGISTRY_FILE, RegistryError } from '../../src/store/database.js';
import { openSqliteRegistry } from '../../src/store/registry.js';
import { SessionRegistry } from '../../src/store/session-registry.js';
import { makeTempDir } from '../helpers/fixtures.js';

describe('SQLite registry', () => {
  let temp: { dir: string; remove: () => Promise<void> };
  before(async () => {
    temp = await makeTempDir('registry');
  });
  after(async () => {
    await temp.remove();
  });

  it('keeps sessions across a reopen and deletes them with their turns', () => {
    const dir = path.join(temp.dir, 'a');
    const first = openSqliteRegistry(dir);
    const sessions = new SessionRegistry(first.sessions);
    const { session } = sessions.upsert('s1', '/w/s1', 1000);
    // Each intent persists at once: nothing is saved by hand.
    sessions.setConversation(session, 'ses_1');
    for (const at of [1001, 1002, 1003]) sessions.beginTurn(session, at);
    sessions.pinSlot(session, 2);
    sessions.upsert('s2', '/w/s2', 2000);
    first.turns.start('s2', 2000);
    first.close();

    const second = openSqliteRegistry(dir);
    const reloaded = new SessionRegistry(second.sessions);
    assert.equal(reloaded.size, 2);
    const s1 = reloaded.get('s1');
    assert.equal(s1?.workspace, '/w/s1');
    assert.equal(s1?.opencodeSessionId, 'ses_1');
    assert.equal(s1?.messageCount, 3);
    assert.equal(s1?.slot, 2);
    assert.equal(second.turns.markInterrupted(), 1);
    assert.equal(second.turns.list('s2', 10)[0]?.status, 'interrupted');
    reloaded.delete('s2');
    assert.equal(second.turns.list('s2', 10).length, 0);
    second.close();
    const third = openSqliteRegistry(dir);
    assert.equal(new SessionRegistry(third.sessions).size, 1);
    third.close();
  });

  it('lists turns newest first with their outcome, and keeps at most 100 per session', () => {
    const registry = openSqliteRegistry(path.join(temp.dir, 'b'));
    for (let i = 0; i < 105; i += 1) {
      const id = registry.turns.start('s', i);
      registry.turns.finish(
        id,
        i % 2 === 0
          ? { status: 'success', mode: 'server', durationMs: i, text: `answer ${i}`, tokens: { total: i }, cost: 0 }
          : { status: 'error', mode: 'per-message', durationMs: i, error: { code: 'opencode_failed', message: 'boom' } },
      );
    }
    const all = registry.turns.list('s', 1000);
    assert.equal(all.length, 100);
    assert.equal(all[0]?.text, 'answer 104');
    assert.deepEqual(all[0]?.tokens, { total: 104 });
    assert.deepEqual(all[1]?.error, { code: 'opencode_failed', message: 'boom' });
    assert.equal(registry.turns.list('s', 5).length, 5);
    registry.close();
  });

  it('refuses a corrupt database with a message that says what to do, and changes nothing', async () => {
    const dir = path.join(temp.dir, 'c');
    const registry = openSqliteRegistry(dir);
    registry.close();
    const file = path.join(dir, REGISTRY_FILE);
    await writeFile(file, 'this is not a database, just text that is long enough to be read as one'.repeat(100));
    assert.throws(
      () => openSqliteRegistry(dir),
      (error: unknown) => {
        assert.ok(error instanceof RegistryError);
        assert.match(error.message, /registry\.sqlite cannot be used/);
        assert.match(error.message, /move the file aside/);
        return true;
      },
    );
  });
});
