// The service binary with the REAL opencode, stopped by SIGTERM the way Kubernetes stops it: with a
// turn in flight (the model is slow), in per-message and in server mode. It must exit 0 within the
// drain + kill grace budget, and /proc must show no opencode process (or descendant) left behind.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { startStubLlm, type StubLlm } from '../fixtures/stub-llm/server.mjs';
import { makeTempDir } from '../helpers/fixtures.js';
import { realOpencodeHome } from '../helpers/real-opencode.js';
import { call, TEST_API_TOKEN } from '../helpers/http.js';
import { pidsWithEnv } from '../helpers/processes.js';
import { startBinary, waitForLog } from '../helpers/service-binary.js';
import { waitFor } from '../helpers/wait-for.js';

const DRAIN_MS = 500;
const KILL_GRACE_MS = 2000;

for (const mode of ['per-message', 'server'] as const) {
  describe(`real opencode, SIGTERM of the service binary, ${mode} mode`, () => {
    let stub: StubLlm;
    let temp: { dir: string; remove: () => Promise<void> };
    // Children get FAKE_OPENCODE_* through the allow-list: the tag marks every process of this run.
    const tag = `FAKE_OPENCODE_TEST_TAG=${randomUUID()}`;
    before(async () => {
      stub = await startStubLlm();
      temp = await makeTempDir(`e2e-sigterm-${mode}`);
    });
    after(async () => {
      await stub.close();
      assert.deepEqual(pidsWithEnv(tag), []);
      await temp.remove();
    });

    it('exits 0 with a turn in flight and leaves no opencode process', async () => {
      const [tagName, tagValue] = tag.split('=') as [string, string];
      const { child, lines } = startBinary({
        ...(await realOpencodeHome(stub, `${temp.dir}/home`)),
        PORT: '0',
        HOST: '127.0.0.1',
        OCPM_WORKSPACE_ROOT: `${temp.dir}/ws`,
        OCPM_DATA_DIR: `${temp.dir}/data`,
        OCPM_MODE: mode,
        OCPM_API_TOKEN: TEST_API_TOKEN,
        OCPM_CHILD_ENV_ALLOW: 'FAKE_OPENCODE_*',
        OCPM_DRAIN_TIMEOUT_MS: String(DRAIN_MS),
        OCPM_KILL_GRACE_MS: String(KILL_GRACE_MS),
        [tagName]: tagValue,
      });
      const exited = once(child, 'exit');
      try {
        const listening = await waitForLog(lines, 'HTTP server listening');
        const ready = await waitForLog(lines, 'OpenCode process manager initialized');
        assert.equal(ready.mode, mode);
        const base = `http://127.0.0.1:${String(listening.port)}`;
        assert.equal((await call(`${base}/api/sessions/t`, 'PUT', { workspace: 't' })).status, 201);
        const first = await call(`${base}/api/sessions/t/messages`, 'POST', { text: 'warm MARK:warm' });
        assert.equal(first.status, 200, JSON.stringify(first.body));

        stub.set({ firstTokenMs: 60_000 });
        const inFlight = call(`${base}/api/sessions/t/messages`, 'POST', { text: 'slow MARK:slow' }).catch((error: unknown) => error);
        await waitFor('the turn to reach the model', () => stub.requests.some((body) => JSON.stringify(body).includes('MARK:slow')), 60_000);
        const running = pidsWithEnv(tag);
        assert.ok(running.length >= 1, 'no opencode process was running');

        const signalled = Date.now();
        child.kill('SIGTERM');
        const [code] = (await exited) as [number | null];
        const tookMs = Date.now() - signalled;
        assert.equal(code, 0);
        // Drain, then SIGTERM and (opencode serve ignores SIGTERM for >10 s) SIGKILL after the grace.
        assert.ok(tookMs < DRAIN_MS + 2 * KILL_GRACE_MS + 5000, `stopping took ${tookMs} ms`);
        assert.deepEqual(pidsWithEnv(tag), [], `opencode processes outlived the service (were ${running.join(', ')})`);
        const answer = (await inFlight) as { status?: number };
        assert.notEqual(answer.status, 200, 'the slow turn cannot have succeeded');
      } finally {
        stub.set({ firstTokenMs: 0 });
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    });
  });
}
