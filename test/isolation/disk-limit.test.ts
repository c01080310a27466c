// OCPM_SESSION_DISK_MB between turns, with the fake opencode in its sandbox: a workspace measured
// over the limit after a turn refuses the session's next message with 429 `resource_limit` (naming
// the limit, counted), other sessions go on, and the refusal ends once space is freed.
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FAKE_OPENCODE_READ_PATHS } from '../helpers/fixtures.js';
import { call } from '../helpers/http.js';
import { sample } from '../helpers/metrics-text.js';
import { startTestService, type TestService } from '../helpers/test-service.js';

for (const mode of ['per-message', 'server'] as const) {
  describe(`the disk limit of a session's workspace, ${mode} mode (fake opencode)`, () => {
    let svc: TestService;
    const url = (p: string): string => `${svc.url}${p}`;
    const post = (session: string, text: string): ReturnType<typeof call> => call(url(`/api/sessions/${session}/messages`), 'POST', { text });

    before(async () => {
      svc = await startTestService({
        OCPM_MODE: mode,
        OCPM_ISOLATION: 'required',
        OCPM_SESSION_DISK_MB: '1',
        FAKE_OPENCODE_RECORD_DIR: '',
        OCPM_SANDBOX_READ_PATHS: FAKE_OPENCODE_READ_PATHS,
      });
      for (const id of ['full', 'other']) assert.equal((await call(url(`/api/sessions/${id}`), 'PUT', { workspace: id })).status, 201);
    });
    after(async () => svc?.close());

    it('refuses the next message of a session over the limit until space is freed', async () => {
      // What the web app (or the agent, file by file under the per-file limit) put there.
      const big = path.join(svc.workspaceRoot, 'full', 'big.bin');
      await writeFile(big, Buffer.alloc(1536 * 1024, 1));
      assert.equal((await post('full', 'first')).status, 200, 'measured after this turn');
      const refused = await post('full', 'second');
      assert.equal(refused.status, 429, JSON.stringify(refused.body));
      assert.equal(refused.body.error.code, 'resource_limit');
      assert.match(refused.body.error.message, /^disk: .* over OCPM_SESSION_DISK_MB \(1 MiB\)/);
      assert.equal(refused.body.error.limit, 'disk');
      assert.ok(Number(refused.body.error.usedBytes) > 1024 * 1024);
      const metrics = String((await call(url('/metrics'), 'GET')).body);
      assert.equal(sample(metrics, 'opencode_manager_rejected_total', { reason: 'resource_limit' }), 1);
      assert.equal((await post('other', 'unaffected')).status, 200);
      await rm(big);
      assert.equal((await post('full', 'after freeing space')).status, 200);
    });
  });
}
