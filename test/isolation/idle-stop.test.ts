// Idle sessions cost no server (isolated pool, fake opencode): a session with no turn for
// OCPM_SESSION_IDLE_STOP_MS loses its server and its slot, never while a person is asked; its next
// PUT (a warm-up) or message starts it again, and its conversation goes on.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FAKE_OPENCODE_READ_PATHS } from '../helpers/fixtures.js';
import { call } from '../helpers/http.js';
import { sample } from '../helpers/metrics-text.js';
import { isPidLive } from '../helpers/processes.js';
import { startTestService, type TestService } from '../helpers/test-service.js';
import { waitFor } from '../helpers/wait-for.js';

interface Instance {
  id: string;
  pid: number | null;
  state: string;
}

const IDLE_STOP_MS = 400;

describe('idle sessions hold no server (isolated pool, fake opencode)', () => {
  let svc: TestService;
  const url = (p: string): string => `${svc.url}${p}`;
  const instances = async (): Promise<Instance[]> => (await call(url('/api/opencode/status'), 'GET')).body.processManager.instances as Instance[];
  const idleStops = async (): Promise<number> => sample((await call(url('/metrics'), 'GET')).body as string, 'opencode_manager_server_idle_stops_total');
  const send = async (session: string, text: string): Promise<{ text: string; mode: string }> => {
    const answer = await call(url(`/api/sessions/${session}/messages`), 'POST', { text });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body as { text: string; mode: string };
  };
  const pendingPermission = (id: string): Promise<string> =>
    waitFor(`a pending permission of ${id}`, async () => {
      const pending = (await call(url(`/api/sessions/${id}/pending`), 'GET')).body as { permissions: Array<{ id: string }> };
      return pending.permissions[0]?.id;
    });

  before(async () => {
    svc = await startTestService({
      OCPM_MODE: 'server',
      OCPM_ISOLATION: 'required',
      OCPM_POOL_SIZE: '2',
      OCPM_HEALTH_INTERVAL_MS: '100',
      OCPM_SESSION_IDLE_STOP_MS: String(IDLE_STOP_MS),
      OCPM_STALL_TIMEOUT_MS: '60000',
      OCPM_PERMISSION_TIMEOUT_MS: '60000',
      FAKE_OPENCODE_RECORD_DIR: '',
      OCPM_SANDBOX_READ_PATHS: FAKE_OPENCODE_READ_PATHS,
    });
  });
  after(async () => svc?.close());

  it("stops an idle session's server and frees its slot; the next message starts it again on the same conversation", async () => {
    assert.equal((await call(url('/api/sessions/quiet'), 'PUT', { workspace: 'quiet' })).status, 201);
    assert.match((await send('quiet', 'one')).text, /^fake reply #1 /);
    const pid = (await instances()).find((i) => i.state === 'ready')?.pid;
    assert.ok(typeof pid === 'number', 'the session has a running server');
    await waitFor('the idle server to stop', async () => !isPidLive(pid) && (await instances()).every((i) => i.state === 'idle'));
    assert.ok((await idleStops()) >= 1);
    const again = await send('quiet', 'two');
    assert.equal(again.mode, 'server');
    assert.match(again.text, /^fake reply #2 /, 'the conversation continues on the new server');
    assert.notEqual((await instances()).find((i) => i.state === 'ready')?.pid, pid);
  });

  it('a PUT of a session whose server stopped starts it again before any message', async () => {
    await waitFor('the idle server to stop', async () => (await instances()).every((i) => i.state === 'idle'));
    assert.equal((await call(url('/api/sessions/quiet'), 'PUT', { workspace: 'quiet' })).status, 200);
    await waitFor('the warm-up to start a server', async () => (await instances()).some((i) => i.state === 'ready'));
  });

  it('never stops the server of a session waiting on a person, however long the wait', async () => {
    await waitFor('the idle server to stop', async () => (await instances()).every((i) => i.state === 'idle'));
    assert.equal((await call(url('/api/sessions/asked'), 'PUT', { workspace: 'asked' })).status, 201);
    const turn = send('asked', '#fake ask patterns=echo%20hi\nplease');
    const requestId = await pendingPermission('asked');
    const serving = (await instances()).filter((i) => i.state === 'ready').map((i) => i.pid);
    assert.equal(serving.length, 1);
    // Several times the idle limit, probed every 100 ms meanwhile.
    await waitFor(
      'the request to wait three times the idle limit',
      async () => sample((await call(url('/metrics'), 'GET')).body as string, 'opencode_manager_user_wait_oldest_seconds') > (IDLE_STOP_MS * 3) / 1000,
    );
    assert.ok(isPidLive(serving[0]!), "the asked session's server still runs");
    await call(url(`/api/sessions/asked/permissions/${requestId}`), 'POST', { reply: 'once' });
    const answer = await turn;
    assert.match(answer.text, /\[permission=once\]$/);
    assert.equal(answer.mode, 'server');
  });
});
