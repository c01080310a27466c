// The Model gateway row of grafana/dashboard.json, and the gateway metrics the alert rules read,
// against a real Prometheus scraping the real service whose model gateway carries the stub model.
// The fake opencode calls no model, so the test calls the gateway itself, as opencode would, with
// the virtual key the service gave each session's opencode: calls that succeed (streamed or not),
// that the provider answers with an error, that are refused for the session's budget and for its
// rate, and one with a key that is not one. dashboard-queries.test.ts covers the rest.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stubOpencodeConfig } from '../fixtures/stub-llm/opencode-config.mjs';
import { startStubLlm, type StubLlm } from '../fixtures/stub-llm/server.mjs';
import { PROJECT_ROOT } from '../helpers/fixtures.js';
import {
  expand,
  panelQueries,
  parseLabelValues,
  queryVariables,
  type Builtins,
  type PanelQuery,
  type QueryVariable,
  type Selection,
} from '../helpers/grafana-variables.js';
import { call } from '../helpers/http.js';
import { sample } from '../helpers/metrics-text.js';
import { startPrometheus, type Prometheus, type PromSeries } from '../helpers/prometheus.js';
import { startTestService, type TestService } from '../helpers/test-service.js';
import { waitFor } from '../helpers/wait-for.js';
import { GATEWAY_METRIC, GATEWAY_PANEL_TITLES, isGatewayQuery, JOB } from './synthetic-panels.js';

const GRAFANA = path.join(PROJECT_ROOT, 'grafana');
// Each session's token budget: the test's calls reserve 50 tokens each (their max_tokens); the call
// that asks for more than the whole budget is refused.
const TOKEN_BUDGET = 2000;
// Model calls one session may make per minute: the rate-limited session makes one more.
const RPM = 8;
// 1 s scrapes: Grafana's $__rate_interval must cover at least two of them.
const BUILTINS_BASE = { rateInterval: '10s', interval: '1s' };

type Bound = Map<string, { variable: QueryVariable; selection: Selection }>;

const finite = (series: PromSeries): boolean => series.values.some(([, value]) => Number.isFinite(Number(value)));

/** A session's gateway URL (of the stub provider) and virtual key, from the configuration its opencode got. */
interface SessionKey {
  readonly baseURL: string;
  readonly key: string;
}

describe('the Model gateway panels and alert metrics against a real Prometheus, with model calls through the gateway', () => {
  let stub: StubLlm;
  let svc: TestService;
  let prom: Prometheus;
  let start = 0;
  let end = 0;
  const dashboard = { panels: [], templating: { list: [] } } as Record<string, any>;
  const keys = new Map<string, SessionKey>();

  /** One model call as opencode's OpenAI-compatible SDK makes it; answers the status. */
  const modelCall = async (session: string, options: { maxTokens?: number; stream?: boolean; key?: string } = {}): Promise<number> => {
    const { baseURL, key } = keys.get(session) as SessionKey;
    const response = await fetch(`${baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${options.key ?? key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'stub-model',
        max_tokens: options.maxTokens ?? 50,
        stream: options.stream ?? false,
        messages: [{ role: 'user', content: `a call of ${session}` }],
      }),
    });
    await response.text();
    return response.status;
  };

  /** Successes (one streamed), an upstream error, a refusal for budget and one for rate, an unknown key. */
  const traffic = async (): Promise<void> => {
    assert.equal(await modelCall('ok'), 200);
    assert.equal(await modelCall('ok', { stream: true }), 200);
    stub.set({ failStatus: 503 });
    try {
      assert.equal(await modelCall('ok'), 503);
    } finally {
      stub.set({ failStatus: 0 });
    }
    assert.equal(await modelCall('spender', { maxTokens: TOKEN_BUDGET + 1 }), 402);
    // Up to RPM calls in the minute go through; the next is refused (earlier ones may still count).
    let status = 200;
    for (let i = 0; i <= RPM && status === 200; i += 1) status = await modelCall('looper');
    assert.equal(status, 429);
    assert.equal(await modelCall('ok', { key: 'ocpm-vk-not-a-key' }), 401);
  };

  const scrapedAfter = async (at: number, scrapes: number): Promise<void> => {
    await waitFor(`${scrapes} scrape(s) after the traffic`, async () => {
      const last = await prom.instant(`timestamp(up{job="${JOB}"})`);
      return Number(last[0]?.values[0]?.[1] ?? 0) >= at + scrapes;
    });
  };

  before(async () => {
    Object.assign(dashboard, JSON.parse(await readFile(path.join(GRAFANA, 'dashboard.json'), 'utf8')) as Record<string, unknown>);
    stub = await startStubLlm();
    svc = await startTestService({
      OCPM_MODE: 'per-message',
      OPENCODE_CONFIG_CONTENT: JSON.stringify(stubOpencodeConfig(stub.baseURL, { permission: false })),
      OCPM_SESSION_TOKEN_BUDGET: String(TOKEN_BUDGET),
      OCPM_SESSION_MODEL_RPM: String(RPM),
    });
    // Each session's opencode run gets the gateway's configuration with the session's key; the fake
    // records its OPENCODE_* variables, so the test reads what opencode would call the gateway with.
    for (const id of ['ok', 'spender', 'looper']) {
      assert.equal((await call(`${svc.url}/api/sessions/${id}`, 'PUT', { workspace: id })).status, 201);
      assert.equal((await call(`${svc.url}/api/sessions/${id}/messages`, 'POST', { text: 'hello' })).status, 200);
    }
    const runs = (await readFile(path.join(svc.recordDir, 'runs.jsonl'), 'utf8'))
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as { cwd: string; opencodeEnv: Record<string, string> });
    for (const run of runs) {
      const config = JSON.parse(run.opencodeEnv.OPENCODE_CONFIG_CONTENT ?? '{}') as {
        provider?: { stub?: { options?: { baseURL?: string; apiKey?: string } } };
      };
      const options = config.provider?.stub?.options ?? {};
      assert.match(options.apiKey ?? '', /^ocpm-vk-/, 'opencode got the real key, not a virtual one');
      assert.notEqual(options.baseURL, stub.baseURL);
      keys.set(path.basename(run.cwd), { baseURL: options.baseURL as string, key: options.apiKey as string });
    }
    assert.deepEqual([...keys.keys()].sort(), ['looper', 'ok', 'spender']);
    prom = await startPrometheus({ job: JOB, targets: [new URL(svc.url).host] });
    // Traffic after the first scrapes, and again after a scrape of the first round: a series first
    // seen at its final value has no rate.
    await waitFor('two scrapes of the service', async () => (await prom.instant(`count_over_time(up{job="${JOB}"}[5m]) >= 2`)).length > 0, 20_000);
    start = Math.floor(Date.now() / 1000) - 5;
    await traffic();
    await scrapedAfter(Date.now() / 1000, 1);
    await traffic();
    await scrapedAfter(Date.now() / 1000, 2);
    end = Math.ceil(Date.now() / 1000);
  });

  after(async () => {
    await prom?.stop();
    await svc?.close();
    await stub?.close();
  });

  const builtins = (): Builtins => ({ ...BUILTINS_BASE, rangeSeconds: end - start });

  /** Each query variable bound to the first value its query returns, or to All. */
  async function bindVariables(pickAll: boolean): Promise<Bound> {
    const bound: Bound = new Map();
    for (const variable of queryVariables(dashboard)) {
      const { selector, label } = parseLabelValues(expand(variable.query, bound, builtins()));
      const series = await prom.range(`group by (${label}) (${selector ?? `{${label}!=""}`})`, start, end, 1);
      const values = [...new Set(series.map((s) => s.metric[label]).filter((v): v is string => v !== undefined && v !== ''))].sort();
      assert.ok(values.length > 0, `variable $${variable.name} (${variable.query}) has no values`);
      bound.set(variable.name, { variable, selection: pickAll && variable.includeAll ? { all: true } : { values: [values[0] as string] } });
    }
    return bound;
  }

  const gatewayQueries = (): PanelQuery[] => panelQueries(dashboard).filter((q) => isGatewayQuery(q.where));

  it('the calls reached the gateway metrics: every kind of outcome, the upstream error by status, both refusals, first bytes timed', async () => {
    const metrics = (await call(`${svc.url}/metrics`, 'GET')).body as string;
    const calls = (outcome: string): number => sample(metrics, 'opencode_manager_model_calls_total', { provider: 'stub', model: 'stub/stub-model', outcome });
    assert.ok(calls('success') >= 6, `success: ${calls('success')}`);
    assert.equal(calls('upstream_error'), 2);
    assert.equal(calls('refused_budget'), 2);
    assert.equal(calls('refused_rate'), 2);
    assert.equal(sample(metrics, 'opencode_manager_model_calls_total', { provider: 'stub', model: 'other', outcome: 'unauthorized' }), 2);
    assert.equal(sample(metrics, 'opencode_manager_model_upstream_errors_total', { provider: 'stub', status: '503' }), 2);
    assert.equal(sample(metrics, 'opencode_manager_model_reservations_refused_total', { reason: 'budget' }), 2);
    assert.equal(sample(metrics, 'opencode_manager_model_reservations_refused_total', { reason: 'rate' }), 2);
    assert.ok(sample(metrics, 'opencode_manager_model_call_seconds_count', { provider: 'stub', phase: 'first_byte' }) >= 8);
    // The stub never saw a virtual key: the gateway sent it the service's own.
    assert.ok(stub.calls.length > 0 && stub.calls.every((c) => c.headers.authorization === 'Bearer x'));
  });

  for (const pickAll of [false, true]) {
    it(`every Model gateway panel query parses and returns a finite series (${pickAll ? 'instance = All' : 'first job and instance'})`, async () => {
      const bound = await bindVariables(pickAll);
      const queries = gatewayQueries();
      assert.deepEqual([...new Set(queries.map((q) => /^panel "(.*)" [A-Z]$/.exec(q.where)?.[1]))], [...GATEWAY_PANEL_TITLES]);
      const problems: string[] = [];
      for (const query of queries) {
        const expr = expand(query.expr, bound, builtins());
        let result: PromSeries[];
        try {
          result = await prom.range(expr, start, end, 1);
        } catch (error) {
          problems.push(`${query.where}: ${(error as Error).message}`);
          continue;
        }
        if (!result.some(finite)) problems.push(`${query.where}: no finite value in ${result.length} series: ${expr}`);
      }
      assert.deepEqual(problems, []);
    });
  }

  it('each Model gateway panel shows the traffic, not only zero-initialised series: each query rises above 0', async () => {
    const bound = await bindVariables(false);
    const flat: string[] = [];
    for (const query of gatewayQueries()) {
      const result = await prom.range(expand(query.expr, bound, builtins()), start, end, 1);
      if (!result.some((s) => s.values.some(([, value]) => Number(value) > 0))) flat.push(query.where);
    }
    assert.deepEqual(flat, []);
  });

  it('every gateway metric the alert rules and their unit tests name is one the service exports here', async () => {
    const text = `${await readFile(path.join(GRAFANA, 'alerts.yml'), 'utf8')}\n${await readFile(path.join(GRAFANA, 'alerts.test.yml'), 'utf8')}`;
    const names = new Set([...text.matchAll(/\b(opencode_manager_[a-z0-9_]+)/g)].map((m) => m[1] as string).filter((name) => GATEWAY_METRIC.test(name)));
    assert.ok(names.has('opencode_manager_model_upstream_errors_total') && names.has('opencode_manager_model_calls_total'));
    const missing: string[] = [];
    for (const name of names) {
      if ((await prom.instant(`count_over_time({__name__="${name}"}[5m])`)).length === 0) missing.push(name);
    }
    assert.deepEqual(missing, [], 'the alerts read gateway metrics the service does not export');
  });
});
