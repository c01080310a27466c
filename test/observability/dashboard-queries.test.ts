// Every query of grafana/dashboard.json, and every metric the alert rules read, against a real
// Prometheus scraping the real service (fake opencode, server mode) every second, after traffic of
// every kind: success, errors, timeouts, a queue overflow, a server instance restart, a session over
// its token budget, and requests forwarded to a peer replica (not scraped) that then drains and
// hands a session to the service.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { PROJECT_ROOT } from '../helpers/fixtures.js';
import { call } from '../helpers/http.js';
import { sample } from '../helpers/metrics-text.js';
import { findFreePort } from '../../src/util/free-port.js';
import { expand, panelQueries, parseLabelValues, queryVariables, type Builtins, type QueryVariable, type Selection } from '../helpers/grafana-variables.js';
import { startPrometheus, type Prometheus, type PromSeries } from '../helpers/prometheus.js';
import { startTestService, type TestService } from '../helpers/test-service.js';
import { waitFor } from '../helpers/wait-for.js';
import { GATEWAY_METRIC, isGatewayQuery, JOB, NOT_LIVE_PANELS } from './synthetic-panels.js';

const DASHBOARD = path.join(PROJECT_ROOT, 'grafana', 'dashboard.json');
const ALERTS = path.join(PROJECT_ROOT, 'grafana', 'alerts.yml');
// Auth is coming to /api/*; sending a token now keeps this test valid when it lands.
const TOKEN = 'obs-test-token';
const auth = { authorization: `Bearer ${TOKEN}` };
// Tokens one session may use on the scraped service: far above what any session of the traffic uses
// (the fake's turn uses the words of the message and of its answer, ~10), but for the one session
// that crosses it on purpose.
const TOKEN_BUDGET = 100;
// 1 s scrapes: Grafana's $__rate_interval must cover at least two of them (containers.md: use 10s).
const BUILTINS_BASE = { rateInterval: '10s', interval: '1s' };

const finite = (series: PromSeries): boolean => series.values.some(([, value]) => Number.isFinite(Number(value)));

/** Why a query fails a Grafana panel (bad syntax, no series, no finite value), or undefined when it is fine. */
async function queryProblem(prom: Prometheus, expr: string, start: number, end: number): Promise<string | undefined> {
  let result: PromSeries[];
  try {
    result = await prom.range(expr, start, end, 1);
  } catch (error) {
    return (error as Error).message;
  }
  if (result.length === 0) return `no series: ${expr}`;
  if (!result.some(finite)) return `no finite value in ${result.length} series: ${expr}`;
  return undefined;
}

describe('the dashboard and the alert rules against a real Prometheus', () => {
  let svc: TestService;
  /** The peer replica: not scraped; it drains during the traffic, so it is undefined afterwards. */
  let peer: TestService | undefined;
  let prom: Prometheus;
  let start = 0;
  let end = 0;
  const dashboard = { panels: [], templating: { list: [] } } as Record<string, any>;

  before(async () => {
    Object.assign(dashboard, JSON.parse(await readFile(DASHBOARD, 'utf8')) as Record<string, unknown>);
    // Two replicas that know each other: fixed ports, known before either starts.
    const ports = [await findFreePort(), await findFreePort()] as const;
    const peers = ports.map((port) => `http://127.0.0.1:${port}`).join(',');
    const cluster = (port: number, name: string) => ({ PORT: String(port), OCPM_PEERS: peers, OCPM_REPLICA_NAME: name, OCPM_PEER_PROBE_INTERVAL_MS: '300' });
    svc = await startTestService({
      ...cluster(ports[0], 'obs-scraped'),
      OCPM_API_TOKEN: TOKEN,
      OCPM_MODE: 'server',
      OCPM_TURN_TIMEOUT_MS: '2000',
      OCPM_MAX_CONCURRENT_TURNS: '1',
      OCPM_QUEUE_LIMIT: '1',
      OCPM_RESTART_BACKOFF_MS: '10',
      OCPM_HEALTH_INTERVAL_MS: '200',
      OCPM_KILL_GRACE_MS: '300',
      // Under the turn timeout: a request nobody answers times out and the turn still ends in time.
      OCPM_PERMISSION_TIMEOUT_MS: '800',
      OCPM_SESSION_TOKEN_BUDGET: String(TOKEN_BUDGET),
    });
    // Same token (the peer token defaults to it) and the same workspace root, as replicas share it.
    peer = await startTestService({ ...cluster(ports[1], 'obs-peer'), OCPM_API_TOKEN: TOKEN, OCPM_WORKSPACE_ROOT: svc.workspaceRoot });
    // Until the service sees its peer up, a session it does not hold may be the peer's: 503.
    await waitFor('the service to see its peer up', async () => {
      const status = (await call(`${svc.url}/api/opencode/status`, 'GET', undefined, auth)).body;
      return status.peers.length === 1 && status.peers[0].name === 'obs-peer' && status.peers[0].state === 'up';
    });
    prom = await startPrometheus({ job: JOB, targets: [new URL(svc.url).host], ruleFiles: [ALERTS] });
    // Traffic must come after the first scrapes: a counter first seen at its final value has no rate.
    await waitFor('two scrapes of the service', async () => (await prom.instant(`count_over_time(up{job="${JOB}"}[5m]) >= 2`)).length > 0, 20_000);
    start = Math.floor(Date.now() / 1000) - 5;
    await driveClusterTraffic(svc.url, peer, prom);
    await peer.close();
    peer = undefined;
    await driveTraffic(svc.url);
    const trafficDone = Date.now() / 1000;
    // The final counters must be scraped too, and rates need two samples after the last event.
    await waitFor('two scrapes after the traffic', async () => {
      const last = await prom.instant(`timestamp(up{job="${JOB}"})`);
      return Number(last[0]?.values[0]?.[1] ?? 0) >= trafficDone + 2;
    });
    end = Math.ceil(Date.now() / 1000);
  });

  after(async () => {
    await prom?.stop();
    await peer?.close();
    await svc?.close();
  });

  const builtins = (): Builtins => ({ ...BUILTINS_BASE, rangeSeconds: end - start });

  /** Resolves the query variables in order, each to the first value its query returns (or to All). */
  async function bindVariables(pickAll: boolean): Promise<Map<string, { variable: QueryVariable; selection: Selection }>> {
    const bound = new Map<string, { variable: QueryVariable; selection: Selection }>();
    for (const variable of queryVariables(dashboard)) {
      const values = await variableValues(variable, bound);
      assert.ok(values.length > 0, `variable $${variable.name} (${variable.query}) has no values`);
      bound.set(variable.name, { variable, selection: pickAll && variable.includeAll ? { all: true } : { values: [values[0] as string] } });
    }
    return bound;
  }

  async function variableValues(variable: QueryVariable, bound: Map<string, { variable: QueryVariable; selection: Selection }>): Promise<string[]> {
    const { selector, label } = parseLabelValues(expand(variable.query, bound, builtins()));
    // label_values(selector, label): the values of `label` on the series of `selector` in the time range.
    const series = await prom.range(`group by (${label}) (${selector ?? `{${label}!=""}`})`, start, end, 1);
    return [...new Set(series.map((s) => s.metric[label]).filter((v): v is string => v !== undefined && v !== ''))].sort();
  }

  it('the traffic reached the service: every outcome, a 429, a restart', async () => {
    const metrics = (await call(`${svc.url}/metrics`, 'GET')).body as string;
    for (const pattern of [
      /^opencode_manager_commands_total\{mode="server",outcome="success"\} [1-9]/m,
      /^opencode_manager_commands_total\{mode="server",outcome="error"\} [1-9]/m,
      /^opencode_manager_commands_total\{mode="server",outcome="timeout"\} [1-9]/m,
      /^opencode_manager_rejected_total\{reason="queue_full"\} [1-9]/m,
      /^opencode_manager_server_restarts_total\{reason="exit"\} [1-9]/m,
    ]) {
      assert.match(metrics, pattern);
    }
  });

  it('the traffic reached the usage metrics: tokens and cost of the fake model, a message refused for budget', async () => {
    const metrics = (await call(`${svc.url}/metrics`, 'GET')).body as string;
    const model = 'fake/default';
    // The spender's message alone has TOKEN_BUDGET words (input tokens); each answered turn costs 0.001 USD.
    assert.ok(sample(metrics, 'opencode_manager_tokens_total', { type: 'input', model }) > TOKEN_BUDGET);
    assert.ok(sample(metrics, 'opencode_manager_tokens_total', { type: 'output', model }) > 0);
    assert.ok(sample(metrics, 'opencode_manager_cost_usd_total', { model }) >= 0.005);
    assert.equal(sample(metrics, 'opencode_manager_rejected_total', { reason: 'budget_exceeded' }), 1);
  });

  it('the traffic reached the waiting-on-users metrics: answers, a timeout, a question; nobody waits now', async () => {
    const metrics = (await call(`${svc.url}/metrics`, 'GET')).body as string;
    for (const pattern of [
      /^opencode_manager_permission_requests_total\{permission="bash",outcome="once"\} 1$/m,
      /^opencode_manager_permission_requests_total\{permission="edit",outcome="timeout"\} 1$/m,
      /^opencode_manager_question_requests_total\{outcome="answered"\} 1$/m,
      /^opencode_manager_sessions_waiting_on_user 0$/m,
      /^opencode_manager_user_wait_oldest_seconds 0$/m,
      /^opencode_manager_user_wait_seconds_count 3$/m,
    ]) {
      assert.match(metrics, pattern);
    }
  });

  it('the traffic reached the cluster metrics: forwards, a look-up at the peer then from the cache, a session received', async () => {
    const metrics = (await call(`${svc.url}/metrics`, 'GET')).body as string;
    for (const pattern of [
      /^opencode_manager_forwarded_requests_total\{outcome="ok"\} [3-9]/m,
      /^opencode_manager_forwarded_requests_total\{outcome="unavailable"\} 0$/m,
      /^opencode_manager_forward_duration_seconds_count [3-9]/m,
      /^opencode_manager_owner_lookup_seconds_count\{result="peer"\} 1$/m,
      /^opencode_manager_owner_lookup_seconds_count\{result="cache"\} [2-9]/m,
      /^opencode_manager_owner_lookup_seconds_count\{result="none"\} [1-9]/m,
      /^opencode_manager_session_handoffs_total\{outcome="received"\} 1$/m,
      /^opencode_manager_peers\{state="left"\} 1$/m,
    ]) {
      assert.match(metrics, pattern);
    }
  });

  it('the data source and job/instance variables exist, and no panel hard-codes a data source uid', () => {
    const list = dashboard.templating.list as Array<Record<string, any>>;
    assert.ok(list.some((v) => v.type === 'datasource' && v.name === 'datasource' && v.query === 'prometheus'));
    assert.deepEqual(
      queryVariables(dashboard).map((v) => v.name),
      ['job', 'instance'],
    );
    const uids = [...JSON.stringify(dashboard).matchAll(/"uid":\s*"([^"]*)"/g)].map((m) => m[1]);
    const dataSourceUids = uids.filter((uid) => uid !== dashboard.uid && uid !== '-- Grafana --');
    assert.ok(dataSourceUids.length > 0 && dataSourceUids.every((uid) => uid === '${datasource}'), `hard-coded data source uid: ${dataSourceUids.join(', ')}`);
  });

  it('every variable query returns values', async () => {
    const bound = await bindVariables(false);
    assert.equal((bound.get('job')?.selection as { values: string[] }).values[0], JOB);
    assert.equal((bound.get('instance')?.selection as { values: string[] }).values[0], new URL(svc.url).host);
  });

  for (const pickAll of [false, true]) {
    it(`every panel query parses and returns at least one finite series (${pickAll ? 'instance = All' : 'first job and instance'})`, async () => {
      const bound = await bindVariables(pickAll);
      const queries = panelQueries(dashboard);
      assert.ok(queries.length >= 52, `only ${queries.length} panel queries found`);
      assert.equal(
        queries.filter((q) => NOT_LIVE_PANELS.has(q.where)).length,
        NOT_LIVE_PANELS.size,
        'a query left to promtool.test.ts is not in the dashboard',
      );
      const problems: string[] = [];
      for (const query of queries) {
        const problem = await queryProblem(prom, expand(query.expr, bound, builtins()), start, end);
        // The handoff quantiles: the service never drains here, so they are NaN; promtool.test.ts
        // checks their values. They must still parse and find their series.
        if (NOT_LIVE_PANELS.has(query.where)) {
          if (!/^no finite value/.test(problem ?? '')) problems.push(`${query.where}: expected NaN only, got ${problem ?? 'a finite value'}`);
        } else if (isGatewayQuery(query.where)) {
          // The Model gateway row: the fake opencode calls no model, so most of its series do not
          // exist here; it must still parse. gateway-panels.test.ts sees it with model calls.
          if (problem !== undefined && !/^no (series|finite value)/.test(problem)) problems.push(`${query.where}: ${problem}`);
        } else if (problem !== undefined) problems.push(`${query.where}: ${problem}`);
      }
      assert.deepEqual(problems, []);
    });
  }

  it('the Usage and cost panels show the traffic, not only zero-initialised series: each query rises above 0', async () => {
    const bound = await bindVariables(false);
    const titles = ['Tokens per second by type', 'Cost per hour', 'Cost per turn', 'Messages refused for budget per minute'];
    const queries = panelQueries(dashboard).filter((q) => titles.some((title) => q.where.startsWith(`panel "${title}" `)));
    assert.equal(queries.length, 5);
    const flat: string[] = [];
    for (const query of queries) {
      const result = await prom.range(expand(query.expr, bound, builtins()), start, end, 1);
      if (!result.some((s) => s.values.some(([, value]) => Number(value) > 0))) flat.push(query.where);
    }
    assert.deepEqual(flat, []);
  });

  it('a misspelled metric or a broken query would fail that check', async () => {
    const bound = await bindVariables(false);
    const good = panelQueries(dashboard).find((q) => q.expr.includes('opencode_manager_commands_total'))?.expr as string;
    assert.equal(await queryProblem(prom, expand(good, bound, builtins()), start, end), undefined);
    const misspelled = good.replace('opencode_manager_commands_total', 'opencode_manager_command_total');
    assert.match((await queryProblem(prom, expand(misspelled, bound, builtins()), start, end)) ?? '', /^no series/);
    assert.match((await queryProblem(prom, expand(`${good})`, bound, builtins()), start, end)) ?? '', /bad_data/);
    assert.throws(() => expand('rate(x{job=~"$jobs"}[5m])', bound, builtins()), /unknown variable \$jobs/);
  });

  it('Prometheus loads every alert rule and evaluates it without error', async () => {
    const rules = await waitFor('every rule to be evaluated once', async () => {
      const body = (await (await fetch(`${prom.url}/api/v1/rules`)).json()) as { data: { groups: Array<{ rules: Array<Record<string, any>> }> } };
      const all = body.data.groups.flatMap((g) => g.rules);
      return all.length > 0 && all.every((r) => r.lastEvaluation !== '0001-01-01T00:00:00Z') ? all : undefined;
    });
    const names = (parseYaml(await readFile(ALERTS, 'utf8')) as { groups: Array<{ rules: Array<{ alert: string }> }> }).groups.flatMap((g) =>
      g.rules.map((r) => r.alert),
    );
    assert.deepEqual(rules.map((r) => r.name).sort(), [...names].sort());
    for (const rule of rules) assert.equal(rule.health, 'ok', `${rule.name}: ${rule.lastError}`);
  });

  it('every metric the alert rules and their unit tests read is one the service really exports', async () => {
    const alerts = await readFile(ALERTS, 'utf8');
    const tests = await readFile(path.join(PROJECT_ROOT, 'grafana', 'alerts.test.yml'), 'utf8');
    const exprs = (parseYaml(alerts) as { groups: Array<{ rules: Array<{ expr: string }> }> }).groups.flatMap((g) => g.rules.map((r) => r.expr));
    const seriesNames = (parseYaml(tests) as { tests: Array<{ input_series: Array<{ series: string }> }> }).tests.flatMap((t) =>
      t.input_series.map((s) => s.series.split('{')[0] as string),
    );
    // Metric names in the expressions: what is left once strings, label matchers, grouping clauses
    // and function calls are removed, minus the operators.
    const stripped = exprs.map((expr) =>
      expr
        .replace(/"[^"]*"/g, '""')
        .replace(/\{[^}]*\}/g, '')
        .replace(/\b(by|on|without|ignoring|group_left|group_right)\s*\([^)]*\)/g, ''),
    );
    const words = stripped.flatMap((expr) => [...expr.matchAll(/\b([a-z_][a-z0-9_]*)\b(?!\s*\()/g)].map((m) => m[1] as string));
    const operators = new Set(['and', 'or', 'unless', 'bool', 'offset', 'group_left', 'group_right']);
    const names = new Set([...words.filter((w) => !operators.has(w)), ...seriesNames]);
    assert.ok(names.has('opencode_manager_commands_total') && names.has('up'));
    const missing: string[] = [];
    for (const name of names) {
      // Only model calls create the gateway's series: gateway-panels.test.ts checks those names.
      if (GATEWAY_METRIC.test(name)) continue;
      if ((await prom.instant(`count_over_time({__name__="${name}"}[5m])`)).length === 0) missing.push(name);
    }
    assert.deepEqual(missing, [], 'the alerts read metrics the service does not export');
  });
});

/**
 * Messages for a session the peer holds, sent to the service: it asks the peer once, then remembers
 * it, and forwards each. (The peer then drains and hands the service a session that had no turn yet;
 * the fake opencode has no `export`, so the forwarded session is deleted here first.)
 */
async function driveClusterTraffic(url: string, peer: TestService, prom: Prometheus): Promise<void> {
  assert.equal((await call(`${peer.url}/api/sessions/remote`, 'PUT', { workspace: 'remote' }, auth)).status, 201);
  assert.equal((await call(`${peer.url}/api/sessions/moving`, 'PUT', { workspace: 'moving' }, auth)).status, 201);
  const forward = async (text: string) => {
    const answer = await call(`${url}/api/sessions/remote/messages`, 'POST', { text }, auth);
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get('x-ocpm-replica'), 'obs-peer');
    assert.equal(answer.headers.get('x-ocpm-forwarded-by'), 'obs-scraped');
  };
  await forward('asks the peer');
  await forward('from the cache');
  // A look-up result's series starts at its first look-up: it has a rate only if it grows after a scrape.
  await waitFor('a scrape of the cached look-up', async () => (await prom.instant('opencode_manager_owner_lookup_seconds_count{result="cache"}')).length > 0);
  await forward('from the cache again');
  assert.equal((await call(`${url}/api/sessions/remote`, 'DELETE', undefined, auth)).status, 204);
}

/** Success, errors, timeouts, a queue overflow, a session over its token budget and a server instance restart. */
async function driveTraffic(url: string): Promise<void> {
  const send = (id: string, text: string) => call(`${url}/api/sessions/${id}/messages`, 'POST', { text }, auth);
  for (const id of ['ok', 'err', 'slow', 'q1', 'q2', 'q3', 'ask', 'spender']) {
    assert.equal((await call(`${url}/api/sessions/${id}`, 'PUT', { workspace: id }, auth)).status, 201);
  }
  for (let i = 0; i < 3; i += 1) assert.equal((await send('ok', `hello ${i}`)).status, 200);
  // A person answers a permission and a question; nobody answers an edit permission (timeout).
  const pendingId = (kind: 'permissions' | 'questions') =>
    waitFor(`a pending ${kind} request`, async () => {
      const pending = (await call(`${url}/api/sessions/ask/pending`, 'GET', undefined, auth)).body;
      return pending[kind][0]?.id as string | undefined;
    });
  const asking = send('ask', '#fake ask\nmay I');
  assert.equal((await call(`${url}/api/sessions/ask/permissions/${await pendingId('permissions')}`, 'POST', { reply: 'once' }, auth)).status, 200);
  assert.equal((await asking).status, 200);
  const quiz = send('ask', '#fake question\npick');
  assert.equal((await call(`${url}/api/sessions/ask/questions/${await pendingId('questions')}`, 'POST', { answers: [['yes']] }, auth)).status, 200);
  assert.equal((await quiz).status, 200);
  assert.equal((await send('ask', '#fake ask=edit\nnobody answers')).status, 200);
  assert.equal((await send('err', '#fake error-event\nx')).status, 502);
  assert.equal((await send('slow', '#fake hang\nx')).status, 504);
  // One turn at a time and one waiting place: the third message overflows the queue (the first
  // turn lasts 1 s, under the 2 s turn timeout, so the second surely waits behind it).
  const running = send('q1', '#fake delay=1000\nfirst');
  await waitFor('the first turn to run', async () => (await call(`${url}/api/opencode/status`, 'GET', undefined, auth)).body.runningTurns === 1);
  const queued = send('q2', 'second');
  await waitFor('the second message to wait', async () => (await call(`${url}/api/opencode/status`, 'GET', undefined, auth)).body.queuedRequests === 1);
  const overflow = await send('q3', 'third');
  assert.equal(overflow.status, 429);
  assert.equal(overflow.body.error.code, 'queue_full');
  assert.equal((await running).status, 200);
  assert.equal((await queued).status, 200);
  // A session whose one turn crosses its token budget: that turn finishes, the next message is refused.
  const long = Array.from({ length: TOKEN_BUDGET }, (_, i) => `w${i}`).join(' ');
  assert.equal((await send('spender', long)).status, 200);
  const refused = await send('spender', 'one more');
  assert.equal(refused.status, 429);
  assert.equal(refused.body.error.code, 'budget_exceeded');
  // kill -9 of the server instance: it restarts (reason exit) and serves again.
  const before = (await call(`${url}/api/opencode/status`, 'GET', undefined, auth)).body.processManager.instances[0];
  process.kill(before.pid as number, 'SIGKILL');
  await waitFor('the instance to be ready again', async () => {
    const now = (await call(`${url}/api/opencode/status`, 'GET', undefined, auth)).body.processManager.instances[0];
    return now.state === 'ready' && now.pid !== before.pid;
  });
  assert.equal((await send('ok', 'after the restart')).status, 200);
}
