// The catalog read at boot (fake opencode's listing commands / server routes, catalog.mjs): status
// shows the providers and default model in both modes; an unknown model or agent is refused with 400
// before the turn (so it never sticks to the opencode session); no provider is 503 at once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call } from '../helpers/http.js';
import { sample } from '../helpers/metrics-text.js';
import { makeTempDir } from '../helpers/fixtures.js';
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

describe('the catalog at the next boot comes from the boot cache, until what it depends on changes', () => {
  let temp: { dir: string; remove: () => Promise<void> };
  before(async () => {
    temp = await makeTempDir('catalog-cache');
  });
  after(async () => {
    await temp.remove();
  });

  /** Boots per-message over the same dirs (and the same children's environment); answers what boot did. */
  const boot = async (providers: string) => {
    const svc = await startTestService({
      OCPM_DATA_DIR: `${temp.dir}/data`,
      OCPM_WORKSPACE_ROOT: `${temp.dir}/workspaces`,
      XDG_DATA_HOME: `${temp.dir}/xdg-data`,
      FAKE_OPENCODE_RECORD_DIR: `${temp.dir}/record`,
      FAKE_OPENCODE_TEST_TAG: 'catalog-cache',
      FAKE_OPENCODE_PROVIDERS: providers,
    });
    try {
      const metrics = (await call(`${svc.url}/metrics`, 'GET')).body as string;
      const discovered = svc.logs.find((line) => line.message === 'OpenCode providers discovered');
      return {
        via: discovered?.via,
        providers: (await call(`${svc.url}/api/opencode/status`, 'GET')).body.opencode.providers as string[],
        cli: sample(metrics, 'opencode_manager_process_spawns_total', { kind: 'cli', outcome: 'started' }),
        run: sample(metrics, 'opencode_manager_process_spawns_total', { kind: 'run', outcome: 'started' }),
      };
    } finally {
      await svc.close();
    }
  };

  it('first boot: one catalog server (kind cli, never run); then the cache; a changed config is read again', async () => {
    assert.deepEqual(await boot('fake/default,stub/stub-model'), { via: 'catalog server', providers: ['fake', 'stub'], cli: 1, run: 0 });
    assert.deepEqual(await boot('fake/default,stub/stub-model'), { via: 'cache', providers: ['fake', 'stub'], cli: 0, run: 0 });
    assert.deepEqual(await boot('other/model'), { via: 'catalog server', providers: ['other'], cli: 1, run: 0 });
  });
});

describe('a catalog server that never gets ready', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService({ FAKE_OPENCODE_SERVE_NEVER_READY: '1', OCPM_SERVER_START_TIMEOUT_MS: '1000', FAKE_OPENCODE_PROVIDERS: 'fake/default' });
  });
  after(async () => {
    await svc.close();
  });

  it('is given up after OCPM_SERVER_START_TIMEOUT_MS, and the listing commands read the catalog', async () => {
    assert.ok(svc.logs.some((line) => line.message === 'No opencode server started to read the catalog; using the listing commands'));
    assert.equal(svc.logs.find((line) => line.message === 'OpenCode providers discovered')?.via, 'commands');
    const status = await call(`${svc.url}/api/opencode/status`, 'GET');
    assert.deepEqual(status.body.opencode.providers, ['fake']);
  });
});
