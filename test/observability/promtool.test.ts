// promtool on what we ship: the alert rules load (`check rules`), their unit tests pass and cover
// every alert both ways (`test rules`), and the service's own /metrics output passes `check metrics`
// except for the exact lint prom-client's default metrics are known to trip.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { createMetrics } from '../../src/metrics/metrics.js';
import { makeTempDir, PROJECT_ROOT } from '../helpers/fixtures.js';
import { expand, panelQueries, queryVariables, type QueryVariable, type Selection } from '../helpers/grafana-variables.js';
import { call } from '../helpers/http.js';
import { requireBinary } from '../helpers/prometheus.js';
import { startTestService } from '../helpers/test-service.js';
import { GATEWAY_PANELS, GATEWAY_SERIES, HANDOFF_PANELS, HANDOFF_SERIES, JOB, series, type SyntheticSeries } from './synthetic-panels.js';

const GRAFANA = path.join(PROJECT_ROOT, 'grafana');
// Auth is coming to /api/*; sending a token now keeps this test valid when it lands.
const TOKEN = 'obs-test-token';
const auth = { authorization: `Bearer ${TOKEN}` };

function promtool(args: string[], input?: string, cwd = GRAFANA): { status: number | null; output: string } {
  requireBinary('promtool');
  const result = spawnSync('promtool', args, { cwd, input, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

// Per minute: 10 user waits, all between 10 s and 30 s (p50 = 20 s, p95 = 29 s by linear
// interpolation); 4 permission requests put to a person, 1 timed out (25%), and 10 answered by the
// policy (not counted); 2 questions put to a person, 1 timed out (50%), and 5 rejected by the policy.
const USER_REQUEST_SERIES = [
  ...['0.5', '1', '2.5', '5', '10'].map((le) => series('opencode_manager_user_wait_seconds_bucket', { le }, '0x15')),
  ...['30', '60', '120', '300', '600', '1800', '+Inf'].map((le) => series('opencode_manager_user_wait_seconds_bucket', { le }, '0+10x15')),
  series('opencode_manager_permission_requests_total', { permission: 'bash', outcome: 'timeout' }, '0+1x15'),
  series('opencode_manager_permission_requests_total', { permission: 'bash', outcome: 'once' }, '0+2x15'),
  series('opencode_manager_permission_requests_total', { permission: 'edit', outcome: 'reject' }, '0+1x15'),
  series('opencode_manager_permission_requests_total', { permission: 'read', outcome: 'auto_allow' }, '0+10x15'),
  series('opencode_manager_question_requests_total', { outcome: 'timeout' }, '0+1x15'),
  series('opencode_manager_question_requests_total', { outcome: 'answered' }, '0+1x15'),
  series('opencode_manager_question_requests_total', { outcome: 'auto_reject' }, '0+5x15'),
];
// The Waiting on users panels the live check cannot see with a finite value (the fake opencode never
// asks a person: dashboard-queries.test.ts), and what they must show on the series above.
const USER_REQUEST_PANELS: Record<string, number> = {
  'panel "User wait p50 / p95" A': 20,
  'panel "User wait p50 / p95" B': 29,
  'panel "Share of user requests that timed out" A': 0.25,
  'panel "Share of user requests that timed out" B': 0.5,
};

// Per minute: 30 turns (25 successes, 5 errors) cost 1.875 USD on two models (112.5 USD/h, 0.0625 USD
// per turn: binary fractions, so the sums are exact), and 2 messages are refused for budget. The live check sees these panels finite; this checks
// their arithmetic: the per-hour and per-minute scaling, and cost over turns of every outcome.
const USAGE_SERIES = [
  series('opencode_manager_cost_usd_total', { model: 'fake/default' }, '0+1.5x15'),
  series('opencode_manager_cost_usd_total', { model: 'other' }, '0+0.375x15'),
  series('opencode_manager_commands_total', { mode: 'server', outcome: 'success' }, '0+25x15'),
  series('opencode_manager_commands_total', { mode: 'server', outcome: 'error' }, '0+5x15'),
  series('opencode_manager_rejected_total', { reason: 'budget_exceeded' }, '0+2x15'),
  series('opencode_manager_rejected_total', { reason: 'queue_full' }, '0+7x15'),
];
const USAGE_PANELS: Record<string, number> = {
  'panel "Cost per hour" A': 112.5,
  'panel "Cost per turn" A': 0.0625,
  'panel "Messages refused for budget per minute" A': 2,
};

function samplesOf(expected: Expected[string]): Array<{ labels: string; value: number }> {
  return typeof expected === 'number' ? [{ labels: '{}', value: expected }] : expected.map(([labels, value]) => ({ labels, value }));
}

interface RuleTests {
  tests: Array<{ name?: string; alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }>;
}

/** A panel query's one unlabelled value, or [labels, value] for each series it returns. */
type Expected = Record<string, number | ReadonlyArray<readonly [string, number]>>;

/** `promtool test rules` evaluates each named panel query (variables: All, or the job) on the series at 10m. */
async function assertPanelValues(input: SyntheticSeries[], expected: Expected): Promise<void> {
  const dashboard = JSON.parse(await readFile(path.join(GRAFANA, 'dashboard.json'), 'utf8')) as Record<string, any>;
  const bound = new Map<string, { variable: QueryVariable; selection: Selection }>();
  for (const variable of queryVariables(dashboard)) bound.set(variable.name, { variable, selection: variable.includeAll ? { all: true } : { values: [JOB] } });
  const queries = panelQueries(dashboard).filter((q) => q.where in expected);
  assert.deepEqual(queries.map((q) => q.where).sort(), Object.keys(expected).sort());
  const tests = {
    rule_files: ['rules.yml'],
    evaluation_interval: '1m',
    tests: [
      {
        interval: '1m',
        input_series: input,
        promql_expr_test: queries.map((q) => ({
          expr: expand(q.expr, bound, { rateInterval: '5m', interval: '1m', rangeSeconds: 600 }),
          eval_time: '10m',
          exp_samples: samplesOf(expected[q.where] as Expected[string]),
        })),
      },
    ],
  };
  const tmp = await makeTempDir('promql');
  try {
    await writeFile(path.join(tmp.dir, 'rules.yml'), 'groups: []\n');
    await writeFile(path.join(tmp.dir, 'panels.test.yml'), JSON.stringify(tests, null, 2));
    const { status, output } = promtool(['test', 'rules', 'panels.test.yml'], undefined, tmp.dir);
    assert.equal(status, 0, output);
  } finally {
    await tmp.remove();
  }
}

describe('promtool', () => {
  it('check rules: grafana/alerts.yml is valid', () => {
    const { status, output } = promtool(['check', 'rules', 'alerts.yml']);
    assert.equal(status, 0, output);
    assert.match(output, /SUCCESS: 16 rules found/);
  });

  it('test rules: the unit tests pass', () => {
    const { status, output } = promtool(['test', 'rules', 'alerts.test.yml']);
    assert.equal(status, 0, output);
    assert.match(output, /SUCCESS/);
  });

  it('every alert has a unit test where it fires and one where it stays quiet', async () => {
    const rules = parseYaml(await readFile(path.join(GRAFANA, 'alerts.yml'), 'utf8')) as { groups: Array<{ rules: Array<{ alert?: string }> }> };
    const alerts = rules.groups.flatMap((g) => g.rules.map((r) => r.alert)).filter((a): a is string => a !== undefined);
    const tests = parseYaml(await readFile(path.join(GRAFANA, 'alerts.test.yml'), 'utf8')) as RuleTests;
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const alert of alerts) {
      const own = cases.filter((c) => c.alertname === alert);
      assert.ok(
        own.some((c) => (c.exp_alerts ?? []).length > 0),
        `${alert} has no unit test where it fires`,
      );
      assert.ok(
        own.some((c) => (c.exp_alerts ?? []).length === 0),
        `${alert} has no unit test where it stays quiet`,
      );
    }
    assert.deepEqual([...new Set(cases.map((c) => c.alertname))].sort(), [...alerts].sort(), 'a unit test names an alert that does not exist');
  });

  it('the Waiting on users quantile and ratio panels compute the expected values on known series (promql_expr_test)', async () => {
    await assertPanelValues(USER_REQUEST_SERIES, USER_REQUEST_PANELS);
  });

  it('the Usage and cost panels compute the expected cost per hour, cost per turn and budget refusals on known series (promql_expr_test)', async () => {
    await assertPanelValues(USAGE_SERIES, USAGE_PANELS);
  });

  it('the Model gateway panels compute the expected error ratio (0, not missing, without errors), first-byte quantiles and refusals on known series (promql_expr_test)', async () => {
    await assertPanelValues(GATEWAY_SERIES, GATEWAY_PANELS);
  });

  it('the handoff time panel, which the live check cannot see, computes the expected quantiles on known series (promql_expr_test)', async () => {
    await assertPanelValues(HANDOFF_SERIES, HANDOFF_PANELS);
  });

  it("check metrics: the running service's /metrics passes, but for the _total gauges of prom-client defaults", async () => {
    // A live service after a few turns, so every histogram and labelled series has samples to lint.
    const svc = await startTestService({ OCPM_API_TOKEN: TOKEN, OCPM_MODE: 'server' });
    let text: string;
    try {
      await call(`${svc.url}/api/sessions/lint`, 'PUT', { workspace: 'lint' }, auth);
      assert.equal((await call(`${svc.url}/api/sessions/lint/messages`, 'POST', { text: 'hi' }, auth)).status, 200);
      assert.equal((await call(`${svc.url}/api/sessions/lint/messages`, 'POST', { text: '#fake error-event\nx' }, auth)).status, 502);
      text = (await call(`${svc.url}/metrics`, 'GET')).body as string;
    } finally {
      await svc.close();
    }
    assert.match(text, /^opencode_manager_command_duration_seconds_bucket\{/m);
    // prom-client's default nodejs_active_{handles,requests,resources}_total are gauges named
    // `_total`; they are not ours to rename. Exactly these lines are allowed, nothing else.
    const allowed = new Set(
      ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'].map(
        (name) => `${name} non-counter metrics should not have "_total" suffix`,
      ),
    );
    const { status, output } = promtool(['check', 'metrics'], text);
    const problems = output
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '');
    const unexpected = problems.filter((line) => !allowed.has(line));
    assert.deepEqual(unexpected, [], `promtool check metrics found problems in our metrics:\n${output}`);
    // promtool exits 3 for lint problems only; any other non-zero status is a parse failure.
    assert.equal(status, problems.length === 0 ? 0 : 3, output);
  });

  it('check metrics: our own metrics alone are clean (exit 0)', async () => {
    const metrics = createMetrics({ collectDefault: false });
    const { status, output } = promtool(['check', 'metrics'], await metrics.registry.metrics());
    assert.equal(status, 0, output);
    assert.equal(output.trim(), '');
  });
});
