// The catalog read at boot (fake opencode's listing commands / server routes, catalog.mjs): status
// shows the providers and default model in both modes; an unknown model or agent is refused with 400
// before the turn (so it never sticks to the opencode session); no provider is 503 at once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call } from '../helpers/http.js';
import { sample } from '../helpers/metrics-text.js';
import { startTestService, type TestService } from '../helpers/test-service.js';

for (const mode of ['per-message', 'server'] as const) {
  describe(`catalog, ${mode} mode`, () => {
    let svc: TestService;
    before(async () => {
      svc = await startTestService({ OCPM_MODE: mode, FAKE_OPENCODE_PROVIDERS: 'fake/default,fake/big,stub/stub-model' });
    });
    after(async () => {
      await svc.close();
    });
    const url = (p: string): string => `${svc.url}${p}`;
    const send = (id: string, body: Record<string, unknown>) => call(url(`/api/sessions/${id}/messages`), 'POST', body);

    it('status shows the providers and the default model', async () => {
      const status = await call(url('/api/opencode/status'), 'GET');
      assert.deepEqual(status.body.opencode, { providers: ['fake', 'stub'], defaultModel: 'fake/default', configured: true });
    });

    it('an unknown model is 400 invalid_model and does not stick; an unknown agent is 400 invalid_agent', async () => {
      await call(url('/api/sessions/m'), 'PUT', { workspace: 'm' });
      const first = await send('m', { text: 'one' });
      assert.equal(first.status, 200);
      const bad = await send('m', { text: 'x', model: 'nosuch/model' });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'invalid_model');
      assert.equal(bad.body.error.message, 'Model not found: nosuch/model. Known models: fake/default, fake/big, stub/stub-model');
      const next = await send('m', { text: 'after' });
      assert.equal(next.status, 200);
      assert.match(next.body.text, /\[model=default\]/);
      const badAgent = await send('m', { text: 'x', agent: 'nosuch' });
      assert.equal(badAgent.status, 400);
      assert.equal(badAgent.body.error.code, 'invalid_agent');
      assert.match(badAgent.body.error.message, /^Agent not found: nosuch\. Known agents: build, /);
      const good = await send('m', { text: 'ok', model: 'fake/big', agent: 'plan' });
      assert.equal(good.status, 200);
      // The refused messages are counted apart, not as turns: three turns ran, none failed.
      const metrics = (await call(url('/metrics'), 'GET')).body as string;
      assert.equal(sample(metrics, 'opencode_manager_messages_refused_total', { code: 'invalid_model' }), 1);
      assert.equal(sample(metrics, 'opencode_manager_messages_refused_total', { code: 'invalid_agent' }), 1);
      assert.equal(sample(metrics, 'opencode_manager_commands_total', { mode, outcome: 'error' }), 0);
      assert.equal(sample(metrics, 'opencode_manager_commands_total', { mode, outcome: 'success' }), 3);
      const history = await call(url('/api/sessions/m/messages?limit=100'), 'GET');
      assert.equal(history.status, 200);
      assert.equal(history.body.messages.length, 3);
    });
  });

  describe(`no provider configured, ${mode} mode`, () => {
    let svc: TestService;
    before(async () => {
      svc = await startTestService({ OCPM_MODE: mode, FAKE_OPENCODE_PROVIDERS: 'none' });
    });
    after(async () => {
      await svc.close();
    });
    const url = (p: string): string => `${svc.url}${p}`;

    it('boot says how to configure one, /readyz and status say so, and a message is 503 no_provider at once', async () => {
      const warning = svc.logs.find((line) => typeof line.message === 'string' && line.message.includes('no model provider configured'));
      assert.ok(warning, 'a boot warning');
      assert.match(String(warning.message), /OPENCODE_CONFIG_CONTENT.*docs\/configuration\.md/);
      const status = await call(url('/api/opencode/status'), 'GET');
      assert.deepEqual(status.body.opencode, { providers: [], defaultModel: null, configured: false });
      assert.equal(status.body.notReady.code, 'no_provider');
      assert.equal(status.body.processManager.isReady, false);
      const readyz = await call(url('/readyz'), 'GET');
      assert.equal(readyz.status, 503);
      assert.equal(readyz.body.error.code, 'no_provider');
      assert.match(readyz.body.error.message, /OPENCODE_CONFIG_CONTENT/);
      assert.equal((await call(url('/livez'), 'GET')).status, 200);
      await call(url('/api/sessions/n'), 'PUT', { workspace: 'n' });
      const startedAt = Date.now();
      const refused = await call(url('/api/sessions/n/messages'), 'POST', { text: 'hi' });
      assert.equal(refused.status, 503);
      assert.equal(refused.body.error.code, 'no_provider');
      assert.ok(Date.now() - startedAt < 5000);
      const metrics = (await call(url('/metrics'), 'GET')).body as string;
      assert.equal(sample(metrics, 'opencode_manager_messages_refused_total', { code: 'no_provider' }), 1);
      assert.equal(sample(metrics, 'opencode_manager_commands_total', { mode, outcome: 'error' }), 0);
    });
  });
}

describe('catalog unknown (listing fails)', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService({ FAKE_OPENCODE_CATALOG_FAIL: '1' });
  });
  after(async () => {
    await svc.close();
  });

  it('refuses nothing: the turn runs as before', async () => {
    const status = await call(`${svc.url}/api/opencode/status`, 'GET');
    assert.deepEqual(status.body.opencode, { providers: [], defaultModel: null, configured: null });
    await call(`${svc.url}/api/sessions/u`, 'PUT', { workspace: 'u' });
    const sent = await call(`${svc.url}/api/sessions/u/messages`, 'POST', { text: 'hi', model: 'any/model' });
    assert.equal(sent.status, 200);
  });
});
