// The isolated server pool with the fake opencode: each session gets its own sandboxed server, its
// conversation continues across turns, a full pool gives the least recently used idle slot away,
// and a deleted session's server stops. (The fake keeps its records outside any workspace, so
// they are off here: a sandbox would refuse them.)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FAKE_OPENCODE_READ_PATHS } from '../helpers/fixtures.js';
import { call } from '../helpers/http.js';
import { sample } from '../helpers/metrics-text.js';
import { startTestService, type TestService } from '../helpers/test-service.js';

interface Instance {
  id: string;
  pid: number | null;
  state: string;
}

describe('isolated server pool (fake opencode)', () => {
  let svc: TestService;
  const url = (p: string): string => `${svc.url}${p}`;
  const instances = async (): Promise<Instance[]> => (await call(url('/api/opencode/status'), 'GET')).body.processManager.instances as Instance[];
  const send = async (session: string, text: string): Promise<{ text: string; mode: string }> => {
    const answer = await call(url(`/api/sessions/${session}/messages`), 'POST', { text });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body as { text: string; mode: string };
  };

  before(async () => {
    svc = await startTestService({
      OCPM_MODE: 'server',
      OCPM_ISOLATION: 'required',
      OCPM_POOL_SIZE: '2',
      FAKE_OPENCODE_RECORD_DIR: '',
      OCPM_SANDBOX_READ_PATHS: FAKE_OPENCODE_READ_PATHS,
    });
  });
  after(async () => svc?.close());

  it('starts with idle slots, in server mode, isolation enforced', async () => {
    const status = (await call(url('/api/opencode/status'), 'GET')).body;
    assert.deepEqual({ mechanism: status.isolation.mechanism, enforced: status.isolation.enforced }, { mechanism: 'landlock', enforced: true });
    for (const layer of ['landlock', 'caps', 'devices', 'limits', 'tcp']) assert.ok(status.isolation.protections.includes(layer), `${layer} is active`);
    assert.equal(status.processManager.mode, 'server');
    assert.deepEqual(
      (await instances()).map((i) => i.state),
      ['idle', 'idle'],
    );
    const metrics = (await call(url('/metrics'), 'GET')).body as string;
    assert.equal(sample(metrics, 'opencode_manager_server_instances', { state: 'idle' }), 2);
  });

  it('gives each session its own server, and its conversation continues there', async () => {
    for (const id of ['a', 'b']) assert.equal((await call(url(`/api/sessions/${id}`), 'PUT', { workspace: id })).status, 201);
    assert.deepEqual(
      [(await send('a', 'one')).text, (await send('a', 'two')).text].map((t) => t.slice(0, 13)),
      ['fake reply #1', 'fake reply #2'],
    );
    const b = await send('b', 'one');
    assert.equal(b.mode, 'server');
    assert.match(b.text, /^fake reply #1 /);
    const live = await instances();
    assert.deepEqual(
      live.map((i) => i.state),
      ['ready', 'ready'],
    );
    assert.notEqual(live[0]?.pid, live[1]?.pid);
  });

  it('a full pool gives the least recently used idle slot to a new session; the old one comes back later', async () => {
    assert.equal((await call(url('/api/sessions/c'), 'PUT', { workspace: 'c' })).status, 201);
    assert.match((await send('c', 'one')).text, /^fake reply #1 /);
    const metrics = (await call(url('/metrics'), 'GET')).body as string;
    assert.ok(sample(metrics, 'opencode_manager_server_evictions_total') >= 1);
    // a's server was the least recently used: a gets a server again, and its conversation goes on.
    assert.match((await send('a', 'three')).text, /^fake reply #3 /);
  });

  it("a deleted session's server stops and its slot turns idle", async () => {
    const before = (await instances()).filter((i) => i.state === 'idle').length;
    for (const id of ['a', 'b', 'c']) assert.equal((await call(url(`/api/sessions/${id}`), 'DELETE')).status, 204);
    const after = await instances();
    assert.ok(after.filter((i) => i.state === 'idle').length > before);
    assert.deepEqual(
      after.map((i) => i.state),
      ['idle', 'idle'],
    );
  });
});
