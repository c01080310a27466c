// A session's PUT warms what its first prompt would load, in server mode: its conversation is
// created, its workspace's config, providers and agents are read from its server ahead of the first
// message, and one prompt runs in a throwaway conversation of the workspace (deleted after; nothing
// appears in the session's own). A restarted server loads the workspaces its predecessor served
// lately again.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call } from '../helpers/http.js';
import { readJsonLines } from '../helpers/json-lines.js';
import { startTestService, type TestService } from '../helpers/test-service.js';
import { waitFor } from '../helpers/wait-for.js';

describe('server mode, a session warmed up at its PUT', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService({ OCPM_MODE: 'server', OCPM_RESTART_BACKOFF_MS: '10' });
  });
  after(async () => {
    await svc.close();
  });

  it("reads the workspace's config, providers and agents from its server before any message, and sends none", async () => {
    const put = await call(`${svc.url}/api/sessions/w`, 'PUT', { workspace: 'w' });
    assert.equal(put.status, 201);
    const workspace = String(put.body.workspace);
    await waitFor('the warm-up reads', async () => {
      const reads = (await readJsonLines(path.join(svc.recordDir, 'serve-requests.jsonl'))).filter((r) => r.method === 'GET' && r.directory === workspace);
      const paths = new Set(reads.map((r) => r.path));
      return ['/config', '/config/providers', '/agent', '/command'].every((p) => paths.has(p)) ? paths : undefined;
    });
    const session = await waitFor(
      'the conversation',
      async () => ((await call(`${svc.url}/api/sessions/w`, 'GET')).body.opencodeSessionId as string | null) ?? undefined,
    );
    // The warm-up prompt went to a throwaway conversation of the workspace, deleted after it.
    const warmUp = await waitFor('the warm-up prompt', async () =>
      (await readJsonLines(path.join(svc.recordDir, 'serve-messages.jsonl'))).find((m) => m.directory === workspace && m.message === 'warm-up'),
    );
    assert.notEqual(warmUp.sessionID, session, "the warm-up prompt is not in the session's conversation");
    await waitFor('the throwaway conversation to be deleted', async () =>
      (await readJsonLines(path.join(svc.recordDir, 'serve-requests.jsonl'))).some(
        (r) => r.method === 'DELETE' && r.path === `/session/${String(warmUp.sessionID)}`,
      ),
    );
    const first = await call(`${svc.url}/api/sessions/w/messages`, 'POST', { text: 'hello' });
    assert.equal(first.status, 200);
    assert.equal(first.body.opencodeSessionId, session);
    assert.match(String(first.body.text), /fake reply #1\b/, 'the warm-up left nothing in the conversation');
  });

  it('after its server restarts, loads the workspaces it served lately again (reads, then a warm-up prompt), before any new message', async () => {
    assert.equal((await call(`${svc.url}/api/sessions/busy`, 'PUT', { workspace: 'busy' })).status, 201);
    const answer = await call(`${svc.url}/api/sessions/busy/messages`, 'POST', { text: 'hello' });
    assert.equal(answer.status, 200);
    const workspace = String((await call(`${svc.url}/api/sessions/busy`, 'GET')).body.workspace);
    const instance = async (): Promise<{ pid: number | null; state: string }> =>
      (await call(`${svc.url}/api/opencode/status`, 'GET')).body.processManager.instances[0] as { pid: number | null; state: string };
    const crashed = (await instance()).pid!;
    process.kill(crashed, 'SIGKILL');
    const next = await waitFor('the restarted server', async () => {
      const now = await instance();
      return now.state === 'ready' && now.pid !== crashed ? now.pid : undefined;
    });
    await waitFor('the workspace read again by the new server', async () => {
      const reads = (await readJsonLines(path.join(svc.recordDir, 'serve-requests.jsonl'))).filter(
        (r) => r.pid === next && r.method === 'GET' && r.directory === workspace,
      );
      const paths = new Set(reads.map((r) => r.path));
      return ['/config', '/config/providers', '/agent'].every((p) => paths.has(p)) || undefined;
    });
    const warmUp = await waitFor('the warm-up prompt on the new server', async () =>
      (await readJsonLines(path.join(svc.recordDir, 'serve-messages.jsonl'))).find(
        (m) => m.pid === next && m.directory === workspace && m.message === 'warm-up',
      ),
    );
    assert.notEqual(warmUp.sessionID, answer.body.opencodeSessionId, "not in the session's conversation");
    const sent = (await readJsonLines(path.join(svc.recordDir, 'serve-messages.jsonl'))).filter((m) => m.pid === next);
    assert.deepEqual([...new Set(sent.map((m) => m.message))], ['warm-up'], 'the new server got no message but warm-up prompts');
  });
});
