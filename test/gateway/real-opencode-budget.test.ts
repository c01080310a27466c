// Budgets that hold, with the real opencode: the gateway reserves each model call's worst case (its
// max_tokens at the model's output price) before it goes upstream, so a budget that allows two calls
// stops the third call of a turn, not the turn after.
//   price: output 1000 USD per million tokens (0.001 per token), input free;
//   the model's output limit 10000 -> opencode asks max_tokens 10000 -> each call reserves 10 USD;
//   the stub's tool calls answer 8 output tokens each (0.008 USD).
// With a budget of 10.012 USD: call 1 (0 + 10 <= 10.012) and call 2 (0.008 + 10) go, call 3 (0.016 + 10) is refused.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { stubOpencodeConfig } from '../fixtures/stub-llm/opencode-config.mjs';
import { startStubLlm, toolMessage, type StubLlm } from '../fixtures/stub-llm/server.mjs';
import { makeTempDir } from '../helpers/fixtures.js';
import { call } from '../helpers/http.js';
import { explain, realOpencodeHome } from '../helpers/real-opencode.js';
import { startTestService, type TestService } from '../helpers/test-service.js';

const OUTPUT_LIMIT = 10000;

function budgetConfig(stub: StubLlm): string {
  const config = stubOpencodeConfig(stub.baseURL, { permission: { '*': 'allow' } }) as { provider: { stub: { models: Record<string, unknown> } } };
  config.provider.stub.models['stub-model'] = { name: 'Stub', cost: { input: 0, output: 1000 }, limit: { context: 200000, output: OUTPUT_LIMIT } };
  return JSON.stringify(config);
}

for (const mode of ['per-message', 'server'] as const) {
  describe(`budgets at the gateway with the real opencode, ${mode} mode`, () => {
    let stub: StubLlm;
    let svc: TestService;
    let temp: { dir: string; remove: () => Promise<void> };
    const url = (p: string): string => `${svc.url}${p}`;

    before(async () => {
      stub = await startStubLlm();
      temp = await makeTempDir(`budget-${mode}`);
      svc = await startTestService({
        ...(await realOpencodeHome(stub, `${temp.dir}/home`)),
        OPENCODE_CONFIG_CONTENT: budgetConfig(stub),
        OCPM_SESSION_COST_BUDGET_USD: '10.012',
        OCPM_ISOLATION: 'required',
        OCPM_OPENCODE_BIN: '',
        OCPM_MODE: mode,
        OCPM_KILL_GRACE_MS: '2000',
        OCPM_DRAIN_TIMEOUT_MS: '1000',
      });
      assert.equal((await call(url('/api/sessions/s'), 'PUT', { workspace: 's' })).status, 201);
    });

    after(async () => {
      await svc?.close();
      await stub?.close();
      await temp?.remove();
    });

    it('stops the third call of a turn with budget_exceeded; the first two are counted and the session goes on after a reset', async () => {
      const from = stub.calls.length;
      const three = `${toolMessage('bash', 'echo one')} ${toolMessage('bash', 'echo two')}`;
      const refused = await call(url('/api/sessions/s/messages'), 'POST', { text: three });
      assert.equal(refused.status, 429, explain(svc, refused));
      assert.equal((refused.body as { error: { code: string } }).error.code, 'budget_exceeded');
      const calls = stub.calls.slice(from);
      assert.deepEqual(
        calls.map((c) => (c.body as { max_tokens?: number }).max_tokens),
        [OUTPUT_LIMIT, OUTPUT_LIMIT],
        'two calls reached the model, each asking for the model output limit',
      );
      const session = (await call(url('/api/sessions/s'), 'GET')).body as { usage: { tokens: { output: number }; cost: number; turns: number } };
      const output = calls.reduce((sum, c) => sum + (c.usage?.completion_tokens ?? 0), 0);
      assert.equal(session.usage.tokens.output, output);
      assert.ok(Math.abs(session.usage.cost - output * 0.001) < 1e-9, `cost ${session.usage.cost}`);
      assert.equal(session.usage.turns, 1);
      const history = (await call(url('/api/sessions/s/messages?limit=1'), 'GET')).body as { messages: Array<{ status: string; error?: { code: string } }> };
      assert.equal(history.messages[0]?.error?.code, 'budget_exceeded');
      const metrics = await (await fetch(url('/metrics'))).text();
      assert.match(metrics, /opencode_manager_model_reservations_refused_total\{reason="budget"\} 1\n/);

      assert.equal((await call(url('/api/sessions/s/usage/reset'), 'POST')).status, 200);
      const next = await call(url('/api/sessions/s/messages'), 'POST', { text: 'again MARK:after' });
      assert.equal(next.status, 200, explain(svc, next));
      assert.match(String((next.body as { text: string }).text), /marker=after/);
    });
  });
}
