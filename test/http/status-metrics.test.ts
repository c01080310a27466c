// The status shape, probes, metric names, labels and counter reconciliation, the turn timeout, and a
// service whose opencode binary is missing (it stays up and says why).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call } from '../helpers/http.js';
import { sample } from '../helpers/metrics-text.js';
import { startTestService, type TestService } from '../helpers/test-service.js';

describe('status and metrics', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService({ OCPM_TURN_TIMEOUT_MS: '1000' });
  });
  after(async () => {
    await svc.close();
  });
  const url = (p: string): string => `${svc.url}${p}`;

  it('probes: /livez 200, /readyz 200 once the manager is ready', async () => {
    assert.equal((await call(url('/livez'), 'GET')).status, 200);
    const ready = await call(url('/readyz'), 'GET');
    assert.equal(ready.status, 200);
    assert.equal(ready.body.status, 'ready');
  });

  it('status has exactly the documented shape and reveals no path or session id', async () => {
    await call(url('/api/sessions/secret-session'), 'PUT', { workspace: 'secret-ws' });
    await call(url('/api/sessions/secret-session/messages'), 'POST', { text: 'hi' });
    const status = await call(url('/api/opencode/status'), 'GET');
    assert.equal(status.status, 200);
    const body = status.body;
    // call() sends the test token: the full document (the open summary: test/security/status-redaction.test.ts).
    assert.equal(body.detail, 'full');
    assert.equal(body.available, true);
    assert.equal(body.version, '1.18.33-fake');
    assert.equal(body.runningProcesses, 0);
    assert.equal(body.activeStreams, 0);
    const pm = body.processManager;
    assert.deepEqual(
      Object.keys(pm).sort(),
      ['activeSessions', 'description', 'idleTime', 'isReady', 'isRunning', 'lastActivity', 'mode', 'pendingRequests'].sort(),
    );
    assert.equal(pm.isRunning, false);
    assert.equal(pm.isReady, true);
    assert.equal(pm.pendingRequests, 0);
    assert.equal(pm.activeSessions, 1);
    assert.equal(pm.mode, 'per-session');
    assert.equal(pm.description, 'Each message spawns separate OpenCode process');
    assert.equal(typeof pm.lastActivity, 'number');
    assert.ok(pm.idleTime >= 0);
    const text = JSON.stringify(body);
    assert.ok(!text.includes('secret-session') && !text.includes('secret-ws') && !text.includes('/tmp'), text);
  });

  it('a turn past OCPM_TURN_TIMEOUT_MS is killed and answered 504 turn_timeout', async () => {
    await call(url('/api/sessions/slow'), 'PUT', { workspace: 'slow' });
    const response = await call(url('/api/sessions/slow/messages'), 'POST', { text: '#fake hang ignore-sigterm\nx' });
    assert.equal(response.status, 504);
    assert.equal(response.body.error.code, 'turn_timeout');
  });

  it('exposes every documented metric, with bounded labels, and the counters reconcile', async () => {
    await call(url('/api/sessions/count'), 'PUT', { workspace: 'count' });
    const before = await call(url('/metrics'), 'GET');
    const total = (text: string): number =>
      ['success', 'error', 'timeout', 'aborted'].reduce(
        (sum, outcome) => sum + sample(text, 'opencode_manager_commands_total', { mode: 'per-message', outcome }),
        0,
      );
    const texts = ['ok one', '#fake exit=2\nx', 'ok two', '#fake silent\nx', '#fake hang\nx'];
    for (const text of texts) await call(url('/api/sessions/count/messages'), 'POST', { text });
    const afterText = (await call(url('/metrics'), 'GET')).body as string;
    const beforeText = before.body as string;
    assert.equal(total(afterText) - total(beforeText), texts.length);
    const delta = (outcome: string): number =>
      sample(afterText, 'opencode_manager_commands_total', { mode: 'per-message', outcome }) -
      sample(beforeText, 'opencode_manager_commands_total', { mode: 'per-message', outcome });
    assert.equal(delta('success'), 2);
    assert.equal(delta('error'), 2);
    assert.equal(delta('timeout'), 1);
    assert.equal(
      sample(afterText, 'opencode_manager_process_spawns_total', { kind: 'run', outcome: 'started' }) -
        sample(beforeText, 'opencode_manager_process_spawns_total', { kind: 'run', outcome: 'started' }),
      texts.length,
    );
    assert.equal(
      sample(afterText, 'opencode_manager_command_duration_seconds_count', { mode: 'per-message', outcome: 'success' }) -
        sample(beforeText, 'opencode_manager_command_duration_seconds_count', { mode: 'per-message', outcome: 'success' }),
      2,
    );
    for (const name of [
      'opencode_manager_active_processes',
      'opencode_manager_active_streams',
      'opencode_manager_pending_requests',
      'opencode_manager_sessions',
      'opencode_manager_active_sessions',
    ]) {
      assert.match(afterText, new RegExp(`^${name} \\d+$`, 'm'), name);
    }
    assert.ok(sample(afterText, 'opencode_manager_sessions') >= 1);
    assert.equal(sample(afterText, 'opencode_manager_build_info', { opencode_version: '1.18.33-fake', mode: 'per-message' }), 1);
    assert.match(afterText, /^process_cpu_user_seconds_total /m);
    assert.match(afterText, /^nodejs_eventloop_lag_seconds /m);
    assert.match(afterText, /le="1800"/);
    assert.match(afterText, /le="0.05"/);
    assert.ok(sample(afterText, 'http_request_duration_seconds_count', { route: '/api/sessions/:id/messages', method: 'POST', status_code: '200' }) >= 2);
    // No label value may carry a session id or a path.
    assert.ok(!/count"|\/tmp|\/api\/sessions\/count/.test(afterText), 'a session id or path leaked into a label');
  });
});

describe('a service without a usable opencode', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService({ OCPM_OPENCODE_BIN: '/nonexistent/opencode' });
  });
  after(async () => {
    await svc.close();
  });

  it('stays up, reports available: false, fails readiness, and refuses messages with 503', async () => {
    const url = (p: string): string => `${svc.url}${p}`;
    assert.equal((await call(url('/livez'), 'GET')).status, 200);
    const ready = await call(url('/readyz'), 'GET');
    assert.equal(ready.status, 503);
    assert.equal(ready.body.error.code, 'opencode_unavailable');
    const status = await call(url('/api/opencode/status'), 'GET');
    assert.equal(status.status, 200);
    assert.equal(status.body.available, false);
    assert.equal(status.body.version, null);
    assert.equal(status.body.processManager.isReady, false);
    await call(url('/api/sessions/x'), 'PUT', { workspace: 'x' });
    const message = await call(url('/api/sessions/x/messages'), 'POST', { text: 'hi' });
    assert.equal(message.status, 503);
    assert.equal(message.body.error.code, 'opencode_unavailable');
    assert.ok(svc.logs.some((line) => line.message === 'OpenCode process manager initialization failed' && typeof line.reason === 'string'));
  });
});
