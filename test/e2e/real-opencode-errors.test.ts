// opencode's own errors, truthfully, with the real binary and the stub model: what opencode can use is
// asked at boot and shown in the status; an unknown model or agent is a 400 that does not stick to the
// conversation; with no provider configured a message fails at once.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { startStubLlm, type StubLlm } from '../fixtures/stub-llm/server.mjs';
import { makeTempDir } from '../helpers/fixtures.js';
import { call } from '../helpers/http.js';
import { realOpencodeServiceEnv } from '../helpers/real-opencode.js';
import { startTestService, type TestService } from '../helpers/test-service.js';

for (const mode of ['server', 'per-message'] as const) {
  describe(`real opencode, ${mode} mode: model and agent errors`, () => {
    let stub: StubLlm;
    let svc: TestService;
    let temp: { dir: string; remove: () => Promise<void> };
    const url = (p: string): string => `${svc.url}${p}`;
    before(async () => {
      stub = await startStubLlm();
      temp = await makeTempDir(`e2e-errors-${mode}`);
      svc = await startTestService({
        ...(await realOpencodeServiceEnv(stub, `${temp.dir}/home`)),
        OCPM_MODE: mode,
      });
      await call(url('/api/sessions/models'), 'PUT', { workspace: 'models' });
    });
    after(async () => {
      await svc.close();
      await stub.close();
      await temp.remove();
    });

    it("shows opencode's providers and default model in the status", async () => {
      const status = (await call(url('/api/opencode/status'), 'GET')).body;
      assert.deepEqual(status.opencode.providers, ['stub']);
      assert.equal(status.opencode.defaultModel, 'stub/stub-model');
    });

    it('answers 400 invalid_model with the reason, and the next message without a model uses the default', async () => {
      const bad = await call(url('/api/sessions/models/messages'), 'POST', { text: 'hi MARK:bad', model: 'nosuch/model' });
      assert.equal(bad.status, 400, JSON.stringify(bad.body));
      assert.equal(bad.body.error.code, 'invalid_model');
      assert.match(bad.body.error.message, /nosuch\/model/);
      assert.match(bad.body.error.message, /stub\/stub-model/);
      const next = await call(url('/api/sessions/models/messages'), 'POST', { text: 'hi MARK:good' });
      assert.equal(next.status, 200, JSON.stringify(next.body));
      assert.match(next.body.text as string, /marker=good$/);
    });

    it('answers 400 invalid_agent for an agent opencode does not have', async () => {
      const bad = await call(url('/api/sessions/models/messages'), 'POST', { text: 'hi', agent: 'nosuch' });
      assert.equal(bad.status, 400, JSON.stringify(bad.body));
      assert.equal(bad.body.error.code, 'invalid_agent');
      assert.match(bad.body.error.message, /nosuch/);
    });
  });
}

describe('real opencode, server mode, no provider configured', () => {
  let svc: TestService;
  let temp: { dir: string; remove: () => Promise<void> };
  before(async () => {
    temp = await makeTempDir('e2e-no-provider');
    const home = `${temp.dir}/home`;
    await mkdir(home, { recursive: true });
    svc = await startTestService({
      HOME: home,
      XDG_CONFIG_HOME: `${home}/.config`,
      XDG_CACHE_HOME: `${home}/.cache`,
      XDG_STATE_HOME: `${home}/.local/state`,
      OCPM_ISOLATION: 'required',
      OCPM_OPENCODE_BIN: '',
      OCPM_MODE: 'server',
      OCPM_KILL_GRACE_MS: '2000',
    });
  });
  after(async () => {
    await svc.close();
    await temp.remove();
  });

  it('says at boot how to configure one, answers /readyz 503, starts no server, and a message fails at once with no_provider', async () => {
    assert.ok(
      svc.logs.some((line) => line.level === 'error' && /provider/i.test(String(line.message)) && /OPENCODE_CONFIG_CONTENT/.test(JSON.stringify(line))),
      'no boot warning that names how to configure a provider',
    );
    assert.deepEqual((await call(`${svc.url}/api/opencode/status`, 'GET')).body.opencode.providers, []);
    const readyz = await call(`${svc.url}/readyz`, 'GET');
    assert.equal(readyz.status, 503);
    assert.equal(readyz.body.error.code, 'no_provider');
    assert.equal((await call(`${svc.url}/livez`, 'GET')).status, 200);
    await call(`${svc.url}/api/sessions/none`, 'PUT', { workspace: 'none' });
    // No server is started for a session the service cannot answer.
    const instances = (await call(`${svc.url}/api/opencode/status`, 'GET')).body.processManager.instances as Array<{ state: string }>;
    assert.ok(
      instances.every((instance) => instance.state === 'idle'),
      JSON.stringify(instances),
    );
    const startedAt = Date.now();
    const answer = await call(`${svc.url}/api/sessions/none/messages`, 'POST', { text: 'hello' });
    assert.equal(answer.status, 503, JSON.stringify(answer.body));
    assert.equal(answer.body.error.code, 'no_provider');
    assert.ok(Date.now() - startedAt < 5000, `no_provider took ${Date.now() - startedAt} ms`);
  });
});
