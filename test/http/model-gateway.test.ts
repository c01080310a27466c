// The model gateway as the service wires it, with the fake opencode: what a child's environment
// holds (never a provider key, the operator's config or an upstream URL; its providers point at the
// gateway with a virtual key), providers the gateway cannot proxy refused at boot, a config that is
// not JSON not passed on (and never echoed), and a key that dies with its session.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startStubLlm, type StubLlm } from '../fixtures/stub-llm/server.mjs';
import { call } from '../helpers/http.js';
import { readJsonLines } from '../helpers/json-lines.js';
import { startTestService, type TestService } from '../helpers/test-service.js';

const ANTHROPIC_KEY = 'sk-ant-REAL-0123456789';
const GOOGLE_KEY = 'g-REAL-0123456789';
const MINE_KEY = 'mine-REAL-0123456789';

interface RunRecord {
  envNames: string[];
  opencodeEnv: Record<string, string>;
}

type Provider = { options: { baseURL: string; apiKey: string; headers?: unknown } };

function operatorConfig(stub: StubLlm): string {
  return JSON.stringify({
    model: 'mine/stub-model',
    provider: {
      mine: {
        npm: '@ai-sdk/openai-compatible',
        options: { baseURL: stub.baseURL, apiKey: '{env:MINE_KEY}', headers: { 'x-tenant': 'operator-secret-header' } },
        models: { 'stub-model': { name: 'Stub' } },
      },
    },
  });
}

async function lastRun(svc: TestService): Promise<RunRecord> {
  const runs = (await readJsonLines(path.join(svc.recordDir, 'runs.jsonl'))) as unknown as RunRecord[];
  const run = runs.at(-1);
  assert.ok(run !== undefined, 'no run recorded');
  return run;
}

describe('the model gateway, per-message mode with the fake opencode', () => {
  let stub: StubLlm;
  let svc: TestService;
  const url = (p: string): string => `${svc.url}${p}`;

  before(async () => {
    stub = await startStubLlm();
    svc = await startTestService({
      ANTHROPIC_API_KEY: ANTHROPIC_KEY,
      GOOGLE_GENERATIVE_AI_API_KEY: GOOGLE_KEY,
      MINE_KEY,
      OPENCODE_CONFIG_CONTENT: operatorConfig(stub),
    });
  });

  after(async () => {
    await svc?.close();
    await stub?.close();
  });

  it("gives opencode the gateway's URL and a virtual key, never a real key, the operator's config or an upstream URL", async () => {
    assert.equal((await call(url('/api/sessions/s1'), 'PUT', { workspace: 's1' })).status, 201);
    const answer = await call(url('/api/sessions/s1/messages'), 'POST', { text: 'hello' });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const run = await lastRun(svc);
    for (const name of ['ANTHROPIC_API_KEY', 'GOOGLE_GENERATIVE_AI_API_KEY', 'MINE_KEY', 'OPENCODE_CONFIG', 'OPENCODE_AUTH_CONTENT']) {
      assert.ok(!run.envNames.includes(name), `${name} reached opencode`);
    }
    const text = run.opencodeEnv.OPENCODE_CONFIG_CONTENT ?? '';
    for (const secret of [ANTHROPIC_KEY, GOOGLE_KEY, MINE_KEY, 'operator-secret-header', stub.baseURL, '{env:MINE_KEY}']) {
      assert.ok(!text.includes(secret), `${secret} is in opencode's config`);
    }
    const config = JSON.parse(text) as { model: string; provider: Record<string, Provider> };
    assert.equal(config.model, 'mine/stub-model', 'the rest of the config is kept');
    assert.deepEqual(Object.keys(config.provider).sort(), ['anthropic', 'mine']);
    for (const [id, provider] of Object.entries(config.provider)) {
      assert.match(provider.options.baseURL, new RegExp(`^http://127\\.0\\.0\\.1:\\d+/${id}$`));
      assert.match(provider.options.apiKey, /^ocpm-vk-/);
      assert.equal(provider.options.headers, undefined);
    }
  });

  it('lists the providers it stands in for and refuses the ones it cannot proxy, with an error line at boot', async () => {
    const status = (await call(url('/api/opencode/status'), 'GET')).body as {
      gateway: { enabled: boolean; providers: string[]; refused: Array<{ id: string; reason: string }> };
    };
    assert.equal(status.gateway.enabled, true);
    assert.deepEqual(status.gateway.providers, ['anthropic', 'mine']);
    assert.deepEqual(
      status.gateway.refused.map((r) => r.id),
      ['google'],
    );
    assert.ok(
      svc.logs.some((line) => line.level === 'error' && /"google" is refused/.test(String(line.message))),
      'no boot error names the refused provider',
    );
    assert.ok(!JSON.stringify(svc.logs).includes(GOOGLE_KEY) && !JSON.stringify(svc.logs).includes(ANTHROPIC_KEY), 'a key was logged');
  });

  it("takes the session's key until the session is deleted, and sends the real key upstream", async () => {
    assert.equal((await call(url('/api/sessions/s2'), 'PUT', { workspace: 's2' })).status, 201);
    assert.equal((await call(url('/api/sessions/s2/messages'), 'POST', { text: 'hello' })).status, 200);
    const config = JSON.parse((await lastRun(svc)).opencodeEnv.OPENCODE_CONFIG_CONTENT ?? '{}') as { provider: Record<string, Provider> };
    const mine = config.provider.mine!.options;
    const modelCall = (): Promise<Response> =>
      fetch(`${mine.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${mine.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'stub-model', messages: [{ role: 'user', content: 'hi' }] }),
      });
    const from = stub.calls.length;
    const answer = await modelCall();
    assert.equal(answer.status, 200);
    await answer.text();
    assert.equal(stub.calls.length, from + 1);
    assert.equal(stub.calls.at(-1)?.headers.authorization, `Bearer ${MINE_KEY}`);
    assert.equal(stub.calls.at(-1)?.headers['x-tenant'], 'operator-secret-header');
    const session = (await call(url('/api/sessions/s2'), 'GET')).body as { usage: { tokens: { input: number } } };
    assert.equal(session.usage.tokens.input, stub.calls.at(-1)?.usage?.prompt_tokens);

    assert.equal((await call(url('/api/sessions/s2'), 'DELETE')).status, 204);
    const refused = await modelCall().then(
      (response) => response.status,
      () => 'no connection',
    );
    assert.ok(refused === 401 || refused === 'no connection', `a deleted session's key answered ${String(refused)}`);
    assert.equal(stub.calls.length, from + 1, 'the call with a dead key reached the model');
  });
});

describe('the model gateway with an opencode config that is not JSON', () => {
  const BROKEN = '{"model":"mine/m","provider":{"mine":{"options":{"apiKey":"sk-BROKEN-SECRET"}}}}}';
  let svc: TestService;

  before(async () => {
    svc = await startTestService({ OPENCODE_CONFIG_CONTENT: BROKEN });
  });

  after(async () => {
    await svc?.close();
  });

  it('is not ready, says where the config broke, passes nothing of it on and never echoes it', async () => {
    const status = (await call(`${svc.url}/api/opencode/status`, 'GET')).body as {
      gateway: { configError: string | null; providers: string[] };
      notReady: { code: string; message: string } | null;
    };
    assert.match(String(status.gateway.configError), /OPENCODE_CONFIG_CONTENT is not a valid opencode configuration: JSON error at position \d+/);
    assert.deepEqual(status.gateway.providers, []);
    assert.equal(status.notReady?.code, 'invalid_opencode_config');
    assert.ok(svc.logs.some((line) => line.level === 'error' && line.code === 'invalid_opencode_config'));
    const readyz = await call(`${svc.url}/readyz`, 'GET');
    assert.equal(readyz.status, 503);
    assert.equal(readyz.body.error.code, 'invalid_opencode_config');
    assert.equal((await call(`${svc.url}/livez`, 'GET')).status, 200);
    assert.equal((await call(`${svc.url}/api/sessions/s`, 'PUT', { workspace: 's' })).status, 201);
    const refused = await call(`${svc.url}/api/sessions/s/messages`, 'POST', { text: 'hello' });
    assert.equal(refused.status, 503);
    assert.equal(refused.body.error.code, 'invalid_opencode_config');
    const history = await call(`${svc.url}/api/sessions/s/messages`, 'GET');
    assert.equal(history.body.messages.length, 0, 'a refused message is not a turn');
    const everything = JSON.stringify([svc.logs, status, readyz.body, refused.body]);
    assert.ok(!everything.includes('sk-BROKEN-SECRET'), 'the broken config was echoed');
  });
});

describe('OCPM_MODEL_GATEWAY=false', () => {
  let svc: TestService;

  before(async () => {
    svc = await startTestService({ OCPM_MODEL_GATEWAY: 'false', ANTHROPIC_API_KEY: ANTHROPIC_KEY });
  });

  after(async () => {
    await svc?.close();
  });

  it('hands opencode the key (the protection the other tests check is off)', async () => {
    assert.equal((await call(`${svc.url}/api/sessions/s`, 'PUT', { workspace: 's' })).status, 201);
    assert.equal((await call(`${svc.url}/api/sessions/s/messages`, 'POST', { text: 'hello' })).status, 200);
    assert.ok((await lastRun(svc)).envNames.includes('ANTHROPIC_API_KEY'));
    const status = (await call(`${svc.url}/api/opencode/status`, 'GET')).body as { gateway: unknown };
    assert.equal(status.gateway, null);
  });
});
