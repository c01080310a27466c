// Usage accounting, in both modes: each turn's tokens and cost land in the history, the session's
// usage, the status totals and the metrics, and all four agree; budgets refuse with 429 once a
// session is over, and a usage reset takes it back.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call, callOk } from '../helpers/http.js';
import { sample, series } from '../helpers/metrics-text.js';
import { startTestService, type TestService } from '../helpers/test-service.js';

const TYPES = { input: 'input', output: 'output', reasoning: 'reasoning', cacheRead: 'cache_read', cacheWrite: 'cache_write' } as const;

async function metricsText(svc: TestService): Promise<string> {
  return (await call(`${svc.url}/metrics`, 'GET')).body as string;
}

/** Tokens of one type (metric label) summed over every model. */
function tokensOf(text: string, type: string): number {
  return series(text, 'opencode_manager_tokens_total')
    .filter((s) => s.labels.type === type)
    .reduce((sum, s) => sum + s.value, 0);
}

function costOf(text: string): number {
  return series(text, 'opencode_manager_cost_usd_total').reduce((sum, s) => sum + s.value, 0);
}

for (const mode of ['per-message', 'server'] as const) {
  describe(`usage accounting (${mode} mode)`, () => {
    let svc: TestService;
    before(async () => {
      svc = await startTestService({ OCPM_MODE: mode });
    });
    after(async () => {
      await svc.close();
    });
    const url = (p: string): string => `${svc.url}${p}`;

    it('adds every turn up the same way in the history, the session, the status and the metrics', async () => {
      const before = await metricsText(svc);
      const texts = { a: ['one two three', 'four five', 'six'], b: ['seven eight nine ten', '#fake exit=3\nfails'] };
      for (const [id, messages] of Object.entries(texts)) {
        await callOk(url(`/api/sessions/${id}`), 'PUT', { workspace: id });
        for (const text of messages) await call(url(`/api/sessions/${id}/messages`), 'POST', { text });
      }
      const totals = { tokens: { input: 0, output: 0, reasoning: 0, cacheRead: 0, cacheWrite: 0 }, cost: 0, turns: 0 };
      for (const [id, messages] of Object.entries(texts)) {
        const history = (await callOk(url(`/api/sessions/${id}/messages?limit=100`), 'GET')).messages as any[];
        assert.equal(history.length, messages.length);
        const { usage } = await callOk(url(`/api/sessions/${id}`), 'GET');
        assert.equal(usage.turns, messages.length, `${id}: every turn that ran counts`);
        for (const type of Object.keys(TYPES) as Array<keyof typeof TYPES>) {
          const fromHistory = history.reduce((sum, turn) => sum + (turn.tokens?.[type] ?? 0), 0);
          assert.equal(usage.tokens[type], fromHistory, `${id}: ${type}`);
          totals.tokens[type] += fromHistory;
        }
        const cost = history.reduce((sum, turn) => sum + (turn.cost ?? 0), 0);
        assert.ok(Math.abs(usage.cost - cost) < 1e-9, `${id}: cost ${usage.cost} vs ${cost}`);
        totals.cost += cost;
        totals.turns += messages.length;
      }
      assert.ok(totals.tokens.input >= 10, 'the fake reports input tokens (words of the message)');
      if (mode === 'per-message') {
        // The failed turn (its run exited 3 after its step) counts what it used: tokens and cost.
        const failed = (await callOk(url('/api/sessions/b/messages?limit=1'), 'GET')).messages[0];
        assert.equal(failed.status, 'error');
        assert.ok(failed.tokens.input > 0 && failed.cost > 0, JSON.stringify(failed));
      }
      assert.ok(totals.tokens.output > 0 && totals.cost > 0);

      const status = (await callOk(url('/api/opencode/status'), 'GET')).usage;
      assert.deepEqual(status.tokens, totals.tokens);
      assert.ok(Math.abs(status.cost - totals.cost) < 1e-9);
      assert.equal(status.turns, totals.turns);
      assert.deepEqual(status.budgets, { tokens: null, costUsd: null });

      const afterText = await metricsText(svc);
      for (const [type, label] of Object.entries(TYPES)) {
        assert.equal(tokensOf(afterText, label) - tokensOf(before, label), totals.tokens[type as keyof typeof TYPES], `metric ${label}`);
      }
      assert.ok(Math.abs(costOf(afterText) - costOf(before) - totals.cost) < 1e-9, 'metric cost');
      for (const s of series(afterText, 'opencode_manager_tokens_total')) assert.ok(!s.labels.model!.includes('/') || s.labels.model !== 'x/y');
    });

    it('labels the turns with the configured model they ran on', async () => {
      const text = await metricsText(svc);
      const models = new Set(
        series(text, 'opencode_manager_tokens_total')
          .filter((s) => s.value > 0)
          .map((s) => s.labels.model),
      );
      assert.deepEqual([...models], ['fake/default'], "the fake's default model, which its catalog lists");
    });
  });
}

describe('session budgets', () => {
  let svc: TestService;
  before(async () => {
    // The fake's turn uses (words in the message) + (words in the answer) tokens and costs 0.001 USD.
    svc = await startTestService({ OCPM_MODE: 'server', OCPM_SESSION_TOKEN_BUDGET: '60', OCPM_SESSION_COST_BUDGET_USD: '0.0025' });
  });
  after(async () => {
    await svc.close();
  });
  const url = (p: string): string => `${svc.url}${p}`;

  it('lets the turn that crosses the token budget finish, then refuses with 429 and the usage until a reset', async () => {
    await callOk(url('/api/sessions/t'), 'PUT', { workspace: 't' });
    const crossing = await call(url('/api/sessions/t/messages'), 'POST', { text: Array.from({ length: 61 }, (_, i) => `w${i}`).join(' ') });
    assert.equal(crossing.status, 200, 'the turn that crosses the budget finishes');
    const refused = await call(url('/api/sessions/t/messages'), 'POST', { text: 'more' });
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error.code, 'budget_exceeded');
    assert.match(refused.body.error.message, /OCPM_SESSION_TOKEN_BUDGET/);
    assert.equal(refused.body.error.usage.turns, 1);
    assert.ok(refused.body.error.usage.tokens.input >= 61);
    assert.deepEqual(refused.body.error.budget, { tokens: 60, costUsd: 0.0025 });
    assert.equal((await callOk(url('/api/opencode/status'), 'GET')).usage.sessionsOverBudget, 1);
    assert.ok(sample(await metricsText(svc), 'opencode_manager_rejected_total', { reason: 'budget_exceeded' }) >= 1);
    assert.equal((await call(url('/api/sessions/t/messages?limit=10'), 'GET')).body.messages.length, 1, 'a refused message is no turn');

    const reset = await callOk(url('/api/sessions/t/usage/reset'), 'POST');
    assert.equal(reset.usage.turns, 0);
    assert.equal(typeof reset.usage.resetAt, 'number');
    assert.equal((await call(url('/api/sessions/t/messages'), 'POST', { text: 'again' })).status, 200);
  });

  it('refuses once the cost budget is reached, in an SSE request too before any stream opens', async () => {
    await callOk(url('/api/sessions/c'), 'PUT', { workspace: 'c' });
    for (let i = 0; i < 3; i += 1) assert.equal((await call(url('/api/sessions/c/messages'), 'POST', { text: `turn ${i}` })).status, 200);
    const refused = await call(url('/api/sessions/c/messages'), 'POST', { text: 'one more' }, { accept: 'text/event-stream' });
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error.code, 'budget_exceeded');
    assert.match(refused.body.error.message, /OCPM_SESSION_COST_BUDGET_USD/);
    assert.ok(refused.body.error.usage.cost >= 0.0025);
  });

  it('answers 404 for the usage reset of an unknown session, and 400 for a body', async () => {
    assert.equal((await call(url('/api/sessions/nobody/usage/reset'), 'POST')).status, 404);
    assert.equal((await call(url('/api/sessions/t/usage/reset'), 'POST', { x: 1 })).status, 400);
  });
});
