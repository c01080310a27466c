// Memory-aware starts (isolated pool, fake opencode): a server starts only where it fits under
// OCPM_MEMORY_LIMIT_MB. Otherwise an idle session's server is stopped for it; when none can be, the
// turn waits (OCPM_WHEN_MEMORY_FULL=wait) or runs per-message (=per-message). Each fake server
// keeps 600 MB per message, so what fits does not depend on the test runner's own size (20-620 MB).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FAKE_OPENCODE_READ_PATHS } from '../helpers/fixtures.js';
import { call } from '../helpers/http.js';
import { sample } from '../helpers/metrics-text.js';
import { startTestService, type TestService } from '../helpers/test-service.js';
import { waitFor } from '../helpers/wait-for.js';

const MB = 1024 * 1024;

interface Instance {
  id: string;
  state: string;
  rssBytes: number;
}

function isolatedEnv(extra: Record<string, string>): Record<string, string> {
  return {
    OCPM_MODE: 'server',
    OCPM_ISOLATION: 'required',
    OCPM_HEALTH_INTERVAL_MS: '100',
    OCPM_MAX_INSTANCE_RSS_MB: '0',
    OCPM_SESSION_IDLE_STOP_MS: '0',
    OCPM_STALL_TIMEOUT_MS: '60000',
    OCPM_PERMISSION_TIMEOUT_MS: '60000',
    FAKE_OPENCODE_RECORD_DIR: '',
    // No warm-up prompt (it needs the gateway): with the fake it would be a message, and keep 600 MB.
    OCPM_MODEL_GATEWAY: 'false',
    OCPM_SANDBOX_READ_PATHS: FAKE_OPENCODE_READ_PATHS,
    ...extra,
  };
}

function helpers(svc: () => TestService) {
  const url = (p: string): string => `${svc().url}${p}`;
  const status = async (): Promise<{ instances: Instance[]; memory?: { limitBytes: number; usedBytes: number; waiting: number } }> =>
    (await call(url('/api/opencode/status'), 'GET')).body.processManager;
  const memoryFull = async (action: string): Promise<number> =>
    sample((await call(url('/metrics'), 'GET')).body as string, 'opencode_manager_memory_full_total', { action });
  const send = (session: string, text: string) => call(url(`/api/sessions/${session}/messages`), 'POST', { text });
  const put = async (session: string): Promise<void> => {
    assert.ok([200, 201].includes((await call(url(`/api/sessions/${session}`), 'PUT', { workspace: session })).status));
  };
  return { url, status, memoryFull, send, put };
}

describe('memory-aware server starts: OCPM_WHEN_MEMORY_FULL=wait (isolated pool, fake opencode)', () => {
  let svc: TestService;
  const { url, status, memoryFull, send, put } = helpers(() => svc);
  const bigServers = (count: number): Promise<boolean> =>
    waitFor(`${count} servers measured above 600 MB`, async () => (await status()).instances.filter((i) => i.rssBytes > 600 * MB).length >= count || undefined);
  const pendingPermission = (id: string): Promise<string> =>
    waitFor(`a pending permission of ${id}`, async () => {
      const pending = (await call(url(`/api/sessions/${id}/pending`), 'GET')).body as { permissions: Array<{ id: string }> };
      return pending.permissions[0]?.id;
    });

  before(async () => {
    svc = await startTestService(
      isolatedEnv({ OCPM_POOL_SIZE: '3', OCPM_MEMORY_LIMIT_MB: '1400', OCPM_WHEN_MEMORY_FULL: 'wait', FAKE_OPENCODE_SERVE_LEAK_MB_PER_MESSAGE: '600' }),
    );
  });
  after(async () => svc?.close());

  it('reports the limit and what the service holds against it', async () => {
    const memory = (await status()).memory;
    assert.equal(memory?.limitBytes, 1400 * MB);
    assert.ok((memory?.usedBytes ?? 0) > 0);
    const metrics = (await call(url('/metrics'), 'GET')).body as string;
    assert.equal(sample(metrics, 'opencode_manager_memory_limit_bytes'), 1400 * MB);
  });

  it('starts a second server while it fits, and stops an idle one for a third that does not, though a slot is free', async () => {
    for (const id of ['a', 'b']) {
      await put(id);
      assert.equal((await send(id, 'one')).body.mode, 'server');
    }
    await bigServers(2);
    assert.equal(await memoryFull('evicted'), 0);
    await put('c');
    const c = await send('c', 'one');
    assert.equal(c.status, 200, JSON.stringify(c.body));
    assert.equal(c.body.mode, 'server');
    assert.equal(await memoryFull('evicted'), 1);
    assert.equal((await status()).instances.filter((i) => i.state === 'idle').length, 1, 'a slot stays free: memory, not slots, was short');
  });

  it('makes a turn wait while every server is held, and starts its server once one is no longer held', async () => {
    await bigServers(2);
    // b and c (the two servers now) are each held by a turn waiting on a person.
    const held = ['b', 'c'].map((id) => ({ id, turn: send(id, '#fake ask patterns=echo%20hi\nplease') }));
    const requests = await Promise.all(held.map(({ id }) => pendingPermission(id)));
    await put('d');
    const d = send('d', 'one');
    await waitFor('the turn to wait for memory', async () => (await status()).memory?.waiting === 1 || undefined);
    assert.equal(await memoryFull('waited'), 1);
    await call(url(`/api/sessions/b/permissions/${requests[0]!}`), 'POST', { reply: 'once' });
    assert.equal((await held[0]!.turn).status, 200);
    const answer = await d;
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.mode, 'server');
    assert.equal((await status()).memory?.waiting, 0);
    await call(url(`/api/sessions/c/permissions/${requests[1]!}`), 'POST', { reply: 'once' });
    assert.equal((await held[1]!.turn).status, 200);
  });
});

describe('memory-aware server starts: OCPM_WHEN_MEMORY_FULL=per-message (isolated pool, fake opencode)', () => {
  let svc: TestService;
  const { status, memoryFull, send, put } = helpers(() => svc);
  before(async () => {
    svc = await startTestService(isolatedEnv({ OCPM_POOL_SIZE: '2', OCPM_MEMORY_LIMIT_MB: '1', OCPM_WHEN_MEMORY_FULL: 'per-message' }));
  });
  after(async () => svc?.close());

  it('starts no server that cannot fit: neither the warm-up nor the turn, which runs per-message', async () => {
    await put('tight');
    const answer = await send('tight', 'one');
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.mode, 'per-message');
    assert.equal(await memoryFull('per_message'), 1);
    assert.deepEqual(
      (await status()).instances.map((i) => i.state),
      ['idle', 'idle'],
    );
  });
});
