// The real opencode binary (the project's own opencode-ai dependency) behind the service, offline,
// against a stub OpenAI-compatible model on loopback: per-message and server mode, through the API.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startStubLlm, type StubLlm } from '../fixtures/stub-llm/server.mjs';
import { makeTempDir } from '../helpers/fixtures.js';
import { explain, realOpencodeServiceEnv } from '../helpers/real-opencode.js';
import { call, streamEvents, type SseEvent } from '../helpers/http.js';
import { sample } from '../helpers/metrics-text.js';
import { startTestService, type TestService } from '../helpers/test-service.js';
import { waitFor } from '../helpers/wait-for.js';

for (const mode of ['per-message', 'server'] as const) {
  describe(`real opencode, ${mode} mode`, () => {
    let stub: StubLlm;
    let svc: TestService;
    let temp: { dir: string; remove: () => Promise<void> };
    before(async () => {
      stub = await startStubLlm();
      temp = await makeTempDir(`e2e-${mode}`);
      svc = await startTestService({ ...(await realOpencodeServiceEnv(stub, `${temp.dir}/home`)), OCPM_DRAIN_TIMEOUT_MS: '1000', OCPM_MODE: mode });
    });
    after(async () => {
      await svc.close();
      await stub.close();
      await temp.remove();
    });
    const url = (p: string): string => `${svc.url}${p}`;

    it('answers a message, and a follow-up continues the same opencode session', async () => {
      const status = (await call(url('/api/opencode/status'), 'GET')).body;
      assert.equal(status.available, true);
      assert.match(status.version, /^\d+\.\d+\.\d+$/);
      assert.equal(status.processManager.mode, mode === 'server' ? 'server' : 'per-session');
      await call(url('/api/sessions/e2e'), 'PUT', { workspace: 'e2e' });
      const first = await call(url('/api/sessions/e2e/messages'), 'POST', { text: 'hello MARK:one' });
      assert.equal(first.status, 200, explain(svc, first));
      assert.equal(first.body.text, 'stub answer user_messages=1 marker=one');
      assert.equal(first.body.mode, mode);
      assert.match(first.body.opencodeSessionId, /^ses_/);
      assert.ok(first.body.tokens.total > 0);
      const second = await call(url('/api/sessions/e2e/messages'), 'POST', { text: 'again MARK:two' });
      assert.equal(second.status, 200, explain(svc, second));
      assert.equal(second.body.text, 'stub answer user_messages=2 marker=two');
      assert.equal(second.body.opencodeSessionId, first.body.opencodeSessionId);
      // Usage: the session's totals and the metrics are the sum of what the two turns reported.
      const { usage } = (await call(url('/api/sessions/e2e'), 'GET')).body;
      assert.equal(usage.turns, 2);
      const metrics = (await call(url('/metrics'), 'GET')).body as string;
      for (const [type, label] of [
        ['input', 'input'],
        ['output', 'output'],
      ] as const) {
        const sum = first.body.tokens[type] + second.body.tokens[type];
        assert.ok(sum > 0, `${type} tokens reported`);
        assert.equal(usage.tokens[type], sum, type);
        assert.equal(sample(metrics, 'opencode_manager_tokens_total', { type: label, model: 'stub/stub-model' }), sum, `metric ${label}`);
      }
    });

    it('streams parts before done', async () => {
      const events: SseEvent[] = [];
      for await (const event of streamEvents(url('/api/sessions/e2e/messages'), { text: 'stream MARK:three' })) events.push(event);
      assert.equal(events.at(-1)?.event, 'done', JSON.stringify(events.at(-1)));
      assert.equal(events.at(-1)?.data.text, 'stub answer user_messages=3 marker=three');
      assert.ok(events.filter((e) => e.event === 'part').length >= 2);
      // No host path: the workspace root, the data dir and the checkout never show (paths are relative).
      const raw = JSON.stringify(events);
      for (const hostPath of [svc.workspaceRoot, svc.dataDir, process.cwd()]) assert.ok(!raw.includes(hostPath), `an event shows ${hostPath}`);
      if (mode === 'server') assert.ok(raw.includes('"cwd":"."'), 'server events carry path.cwd relative to the workspace');
    });

    it('runs two sessions in two workspaces at once', async () => {
      for (const id of ['left', 'right']) await call(url(`/api/sessions/${id}`), 'PUT', { workspace: id });
      const [left, right] = await Promise.all([
        call(url('/api/sessions/left/messages'), 'POST', { text: 'MARK:left' }),
        call(url('/api/sessions/right/messages'), 'POST', { text: 'MARK:right' }),
      ]);
      assert.equal(left.status, 200, explain(svc, left));
      assert.equal(right.status, 200, explain(svc, right));
      assert.equal(left.body.text, 'stub answer user_messages=1 marker=left');
      assert.equal(right.body.text, 'stub answer user_messages=1 marker=right');
      assert.notEqual(left.body.opencodeSessionId, right.body.opencodeSessionId);
    });

    it('aborts a running turn', async () => {
      await call(url('/api/sessions/slow'), 'PUT', { workspace: 'slow' });
      stub.set({ firstTokenMs: 30000 });
      try {
        const running = call(url('/api/sessions/slow/messages'), 'POST', { text: 'MARK:slow' });
        await waitFor('the slow turn to reach the model', () => stub.requests.some((body) => JSON.stringify(body).includes('MARK:slow')), 60000);
        assert.equal((await call(url('/api/sessions/slow/abort'), 'POST')).status, 202);
        const aborted = await running;
        assert.equal(aborted.status, 409, explain(svc, aborted));
        assert.equal(aborted.body.error.code, 'aborted');
      } finally {
        stub.set({ firstTokenMs: 0 });
      }
    });

    if (mode === 'server') {
      it('survives kill -9 of its opencode process: it restarts and the next message succeeds', async () => {
        const serveStarts = async (): Promise<number> =>
          sample((await call(url('/metrics'), 'GET')).body as string, 'opencode_manager_process_spawns_total', { kind: 'serve', outcome: 'started' });
        const startsBefore = await serveStarts();
        // opencode's listing commands at boot (an isolated pool has no server to ask yet) are `run` processes too.
        const runsBefore = sample((await call(url('/metrics'), 'GET')).body as string, 'opencode_manager_process_spawns_total', {
          kind: 'run',
          outcome: 'started',
        });
        const before = (await call(url('/api/opencode/status'), 'GET')).body.processManager.instances[0];
        process.kill(before.pid as number, 'SIGKILL');
        await waitFor(
          'the instance to restart',
          async () => {
            const now = (await call(url('/api/opencode/status'), 'GET')).body.processManager.instances[0];
            return now.state === 'ready' && now.pid !== before.pid;
          },
          60000,
        );
        const next = await call(url('/api/sessions/e2e/messages'), 'POST', { text: 'after kill MARK:four' });
        assert.equal(next.status, 200, explain(svc, next));
        assert.equal(next.body.text, 'stub answer user_messages=4 marker=four');
        const metrics = (await call(url('/metrics'), 'GET')).body as string;
        assert.equal(sample(metrics, 'opencode_manager_process_spawns_total', { kind: 'run', outcome: 'started' }), runsBefore, 'a message ran per-message');
        // Isolated: one server per session (and its restart); the killed one came back exactly once.
        assert.equal(await serveStarts(), startsBefore + 1);
      });
    }
  });
}
