// Every metric the dashboard and the alert rules query has a series in /metrics right after boot, on a
// single replica (no peer, no turn, no model call yet): a panel with no data at boot reads as broken.
// The service runs in server mode with the model gateway carrying the stub provider, as deployed.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stubOpencodeConfig } from '../fixtures/stub-llm/opencode-config.mjs';
import { startStubLlm, type StubLlm } from '../fixtures/stub-llm/server.mjs';
import { PROJECT_ROOT } from '../helpers/fixtures.js';
import { call } from '../helpers/http.js';
import { startTestService, type TestService } from '../helpers/test-service.js';

const HISTOGRAM_SUFFIX = /_(bucket|count|sum)$/;

/** The metric names a PromQL text reads (ours, and the service process's default metrics). */
function metricNames(text: string): Set<string> {
  return new Set([...text.matchAll(/\b((?:opencode_manager|process|nodejs|http_request)_[a-z0-9_]+)\b/g)].map((match) => match[1] as string));
}

/** Every sample name in an exposition, with the histogram's own names added for its _bucket/_count/_sum. */
function exposedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const match of exposition.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{| )/gm)) {
    const name = match[1] as string;
    names.add(name);
    if (HISTOGRAM_SUFFIX.test(name)) names.add(name.replace(HISTOGRAM_SUFFIX, ''));
  }
  return names;
}

function expressions(dashboard: unknown): string[] {
  const found: string[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (typeof node === 'object' && node !== null) {
      for (const [key, value] of Object.entries(node)) {
        if ((key === 'expr' || key === 'query') && typeof value === 'string') found.push(value);
        else visit(value);
      }
    }
  };
  visit(dashboard);
  return found;
}

describe('every series the dashboard and the alerts query exists from boot', () => {
  let stub: StubLlm;
  let svc: TestService;
  before(async () => {
    stub = await startStubLlm();
    svc = await startTestService({ OCPM_MODE: 'server', OPENCODE_CONFIG_CONTENT: JSON.stringify(stubOpencodeConfig(stub.baseURL, { permission: false })) });
  });
  after(async () => {
    await svc?.close();
    await stub?.close();
  });

  it('the dashboard and the alert rules read at least the metrics below (the check below is not empty)', async () => {
    const dashboard = JSON.parse(await readFile(path.join(PROJECT_ROOT, 'grafana', 'dashboard.json'), 'utf8')) as unknown;
    const names = metricNames(expressions(dashboard).join('\n'));
    for (const name of [
      'opencode_manager_owner_lookup_seconds_bucket',
      'opencode_manager_command_duration_seconds_bucket',
      'opencode_manager_model_calls_total',
    ]) {
      assert.ok(names.has(name), name);
    }
  });

  it('each of them has a sample in /metrics before any traffic but the scrapes', async () => {
    const dashboard = JSON.parse(await readFile(path.join(PROJECT_ROOT, 'grafana', 'dashboard.json'), 'utf8')) as unknown;
    const alerts = await readFile(path.join(PROJECT_ROOT, 'grafana', 'alerts.yml'), 'utf8');
    const wanted = new Set([...metricNames(expressions(dashboard).join('\n')), ...metricNames(alerts)]);
    // Prometheus's first scrape: http_request_duration_seconds has its first request (that scrape) from the next one.
    assert.equal((await call(`${svc.url}/metrics`, 'GET')).status, 200);
    const metrics = await call(`${svc.url}/metrics`, 'GET');
    assert.equal(metrics.status, 200);
    const exposed = exposedNames(metrics.body as string);
    const missing = [...wanted].filter((name) => !exposed.has(name)).sort();
    assert.deepEqual(missing, [], `queried but not exposed at boot: ${missing.join(', ')}`);
  });
});
