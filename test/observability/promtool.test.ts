// promtool on what we ship: the alert rules load (`check rules`), their unit tests pass and cover
// every alert both ways (`test rules`), and the service's own /metrics output passes `check metrics`
// except for the exact lint prom-client's default metrics are known to trip.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { createMetrics } from '../../src/metrics/metrics.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';
import { call } from '../helpers/http.js';
import { requireBinary } from '../helpers/prometheus.js';
import { startTestService } from '../helpers/test-service.js';

const GRAFANA = path.join(PROJECT_ROOT, 'grafana');
// Auth is coming to /api/*; sending a token now keeps this test valid when it lands.
const TOKEN = 'obs-test-token';
const auth = { authorization: `Bearer ${TOKEN}` };

function promtool(args: string[], input?: string): { status: number | null; output: string } {
  requireBinary('promtool');
  const result = spawnSync('promtool', args, { cwd: GRAFANA, input, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

interface RuleTests {
  tests: Array<{ name?: string; alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }>;
}

describe('promtool', () => {
  it('check rules: grafana/alerts.yml is valid', () => {
    const { status, output } = promtool(['check', 'rules', 'alerts.yml']);
    assert.equal(status, 0, output);
    assert.match(output, /SUCCESS: 12 rules found/);
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
