// Server mode's resource guards: idle and deleted directories released, and the memory recycle
// (alone, and under load, where new turns wait for the new instance).
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call } from '../helpers/http.js';
import { readJsonLines } from '../helpers/json-lines.js';
import { sample } from '../helpers/metrics-text.js';
import { startTestService, type TestService } from '../helpers/test-service.js';
import { waitFor } from '../helpers/wait-for.js';

describe('server mode, resource guards', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService({
      OCPM_MODE: 'server',
      OCPM_HEALTH_INTERVAL_MS: '100',
      OCPM_DIRECTORY_IDLE_MS: '1000',
      OCPM_RESTART_BACKOFF_MS: '10',
      OCPM_MAX_INSTANCE_RSS_MB: '400',
      FAKE_OPENCODE_SERVE_LEAK_MB_PER_MESSAGE: '128',
      // No warm-up prompts (they need the gateway): with the fake each would be a message keeping
      // 128 MB, and a memory recycle between the turns would drop the directories this test follows.
      OCPM_MODEL_GATEWAY: 'false',
    });
  });
  after(async () => {
    await svc.close();
  });
  const url = (p: string): string => `${svc.url}${p}`;

  it('releases the directory of a deleted session, and directories left idle', async () => {
    for (const id of ['gone', 'idle']) {
      await call(url(`/api/sessions/${id}`), 'PUT', { workspace: id });
      assert.equal((await call(url(`/api/sessions/${id}/messages`), 'POST', { text: 'hi' })).status, 200);
    }
    assert.equal((await call(url('/api/sessions/gone'), 'DELETE')).status, 204);
    const metrics = await waitFor('an idle directory to be released', async () => {
      const text = (await call(url('/metrics'), 'GET')).body as string;
      return sample(text, 'opencode_manager_directory_disposals_total', { reason: 'idle' }) >= 1 ? text : undefined;
    });
    assert.equal(sample(metrics, 'opencode_manager_directory_disposals_total', { reason: 'session_deleted' }), 1);
    const requests = await readJsonLines(path.join(svc.recordDir, 'serve-requests.jsonl'));
    const disposed = requests.filter((r) => r.path === '/instance/dispose').map((r) => r.directory as string);
    assert.ok(disposed.includes(path.join(svc.workspaceRoot, 'gone')));
    assert.ok(disposed.includes(path.join(svc.workspaceRoot, 'idle')));
  });

  it('recycles an instance whose process tree grew past OCPM_MAX_INSTANCE_RSS_MB, once idle', async () => {
    await call(url('/api/sessions/big'), 'PUT', { workspace: 'big' });
    for (let i = 0; i < 4; i += 1) {
      const response = await call(url('/api/sessions/big/messages'), 'POST', { text: `leak ${i}` });
      assert.equal(response.status, 200);
      const text = (await call(url('/metrics'), 'GET')).body as string;
      if (sample(text, 'opencode_manager_server_restarts_total', { reason: 'memory' }) >= 1) break;
    }
    await waitFor('a restart for memory', async () => {
      const text = (await call(url('/metrics'), 'GET')).body as string;
      return sample(text, 'opencode_manager_server_restarts_total', { reason: 'memory' }) >= 1;
    });
    const ready = await waitFor('the recycled instance to be ready', async () => {
      const instance = (await call(url('/api/opencode/status'), 'GET')).body.processManager.instances[0];
      return instance.state === 'ready' ? instance : undefined;
    });
    assert.ok(ready.rssBytes < 400 * 1024 * 1024);
    assert.equal((await call(url('/api/sessions/big/messages'), 'POST', { text: 'after recycle' })).status, 200);
  });
});

describe('server mode, a memory recycle under load', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService({
      OCPM_MODE: 'server',
      OCPM_HEALTH_INTERVAL_MS: '100',
      OCPM_RESTART_BACKOFF_MS: '10',
      OCPM_RESTART_DRAIN_MS: '1500',
      OCPM_MAX_CONCURRENT_TURNS: '4',
      OCPM_MAX_INSTANCE_RSS_MB: '400',
      FAKE_OPENCODE_SERVE_LEAK_MB_PER_MESSAGE: '128',
    });
  });
  after(async () => {
    await svc.close();
  });

  it('makes new turns wait for the new instance instead of running per-message', async () => {
    const url = (p: string): string => `${svc.url}${p}`;
    for (const id of ['busy', 'grow', 'late']) await call(url(`/api/sessions/${id}`), 'PUT', { workspace: id });
    await waitFor('warm-ups to finish', async () =>
      (await call(url('/api/sessions'), 'GET')).body.sessions.every((x: { opencodeSessionId: string | null }) => x.opencodeSessionId !== null),
    );
    // A turn that never ends holds the drain open, so the recycle is caught in the middle.
    const hanging = call(url('/api/sessions/busy/messages'), 'POST', { text: '#fake hang\nholds the drain' });
    await waitFor('the server to take the hanging message', async () =>
      (await readJsonLines(path.join(svc.recordDir, 'serve-messages.jsonl'))).some((m) => String(m.message).includes('holds the drain')),
    );
    const draining = async (): Promise<boolean> =>
      /above the limit/.test(String((await call(url('/api/opencode/status'), 'GET')).body.processManager.instances[0].lastError));
    for (let i = 0; i < 8 && !(await draining()); i += 1) {
      assert.equal((await call(url('/api/sessions/grow/messages'), 'POST', { text: `grow ${i}` })).status, 200);
    }
    await waitFor('the memory recycle to start', draining);
    const late = await call(url('/api/sessions/late/messages'), 'POST', { text: 'sent while draining' });
    assert.equal(late.status, 200, JSON.stringify(late.body));
    assert.equal(late.body.mode, 'server');
    const held = await hanging;
    assert.equal(held.status, 502);
    assert.match(held.body.error.message, /restarted .*above the limit/);
    const metrics = (await call(url('/metrics'), 'GET')).body as string;
    assert.equal(sample(metrics, 'opencode_manager_process_spawns_total', { kind: 'run', outcome: 'started' }), 0);
    assert.equal(sample(metrics, 'opencode_manager_server_restarts_total', { reason: 'memory' }), 1);
  });
});
