// Server mode when opencode serve fails: kill -9 mid-turn, crashes with turns queued, broken
// connections, crash loops and `failed`, health checks, a server that never gets ready, recovery,
// and a restart with a turn in flight.
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FAKE_OPENCODE, makeTempDir } from '../helpers/fixtures.js';
import { call } from '../helpers/http.js';
import { readJsonLines } from '../helpers/json-lines.js';
import { sample } from '../helpers/metrics-text.js';
import { startTestService, type TestService } from '../helpers/test-service.js';
import { waitFor } from '../helpers/wait-for.js';

describe('server mode, failures and recovery', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService({ OCPM_MODE: 'server', OCPM_TURN_TIMEOUT_MS: '1500', OCPM_RESTART_BACKOFF_MS: '10', OCPM_KILL_GRACE_MS: '300' });
  });
  after(async () => {
    await svc.close();
  });
  const url = (p: string): string => `${svc.url}${p}`;
  const instance0 = async () => (await call(url('/api/opencode/status'), 'GET')).body.processManager.instances[0];

  it('a turn past OCPM_TURN_TIMEOUT_MS is aborted and answered 504', async () => {
    await call(url('/api/sessions/slow'), 'PUT', { workspace: 'slow' });
    const response = await call(url('/api/sessions/slow/messages'), 'POST', { text: '#fake hang\nx' });
    assert.equal(response.status, 504);
    assert.equal(response.body.error.code, 'turn_timeout');
  });

  it('kill -9 of the instance mid-turn fails that turn clearly; it restarts and the next turn continues', async () => {
    await call(url('/api/sessions/k'), 'PUT', { workspace: 'k' });
    const first = await call(url('/api/sessions/k/messages'), 'POST', { text: 'before' });
    assert.equal(first.status, 200);
    const before = await instance0();
    const running = call(url('/api/sessions/k/messages'), 'POST', { text: '#fake hang\nmid-turn' });
    await waitFor('the server to take the message', async () =>
      (await readJsonLines(path.join(svc.recordDir, 'serve-messages.jsonl'))).some((m) => String(m.message).includes('mid-turn')),
    );
    process.kill(before.pid as number, 'SIGKILL');
    const failed = await running;
    assert.equal(failed.status, 502);
    assert.equal(failed.body.error.code, 'opencode_failed');
    assert.match(failed.body.error.message, /serve-0/);
    const after = await waitFor('the instance to be ready again', async () => {
      const now = await instance0();
      return now.state === 'ready' && now.pid !== before.pid ? now : undefined;
    });
    assert.equal(after.restarts, 1);
    assert.match(after.lastError, /SIGKILL/);
    const next = await call(url('/api/sessions/k/messages'), 'POST', { text: 'after' });
    assert.equal(next.status, 200);
    assert.equal(next.body.mode, 'server');
    // The slot's data dir survived the restart: the conversation goes on (the killed turn's message counts).
    assert.equal(next.body.text, 'fake reply #3 [model=default] [agent=build]: after');
    const metrics = (await call(url('/metrics'), 'GET')).body as string;
    assert.equal(sample(metrics, 'opencode_manager_server_restarts_total', { reason: 'exit' }), 1);
    assert.equal(sample(metrics, 'opencode_manager_commands_total', { mode: 'server', outcome: 'error' }), 1);
  });
});

describe('server mode, a crash with messages queued behind it', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService({ OCPM_MODE: 'server', OCPM_MAX_CONCURRENT_TURNS: '2', OCPM_RESTART_BACKOFF_MS: '10' });
  });
  after(async () => {
    await svc.close();
  });

  it('fails only the turns the server had taken; each queued message runs exactly once and succeeds', async () => {
    const url = (p: string): string => `${svc.url}${p}`;
    const serveMessages = (): Promise<Array<Record<string, any>>> => readJsonLines(path.join(svc.recordDir, 'serve-messages.jsonl'));
    const ids = ['c0', 'c1', 'q0', 'q1', 'q2', 'q3', 'q4'];
    for (const id of ids) await call(url(`/api/sessions/${id}`), 'PUT', { workspace: id });
    await waitFor('warm-ups to finish', async () =>
      (await call(url('/api/sessions'), 'GET')).body.sessions.every((x: { opencodeSessionId: string | null }) => x.opencodeSessionId !== null),
    );
    // Each workspace's warm-up prompt (a throwaway conversation) is done before the turns start.
    await waitFor('the warm-up prompts', async () => (await serveMessages()).filter((m) => m.message === 'warm-up').length === ids.length);
    const dead = (await call(url('/api/opencode/status'), 'GET')).body.processManager.instances[0];
    // Two turns hang on the server, five messages queue behind them, and only then does the server die:
    // each step waits for the state the previous one produces, so no timing decides the outcome.
    const taken = ['c0', 'c1'].map((id) => call(url(`/api/sessions/${id}/messages`), 'POST', { text: `#fake hang\ntaken ${id}` }));
    await waitFor('the server to take both turns', async () => (await serveMessages()).filter((m) => String(m.message).startsWith('taken')).length === 2);
    const queued = ['q0', 'q1', 'q2', 'q3', 'q4'].map((id) => call(url(`/api/sessions/${id}/messages`), 'POST', { text: `queued ${id}` }));
    await waitFor('five messages to queue', async () => {
      const status = (await call(url('/api/opencode/status'), 'GET')).body;
      return status.runningTurns === 2 && status.queuedRequests === 5;
    });
    process.kill(dead.pid as number, 'SIGKILL');
    for (const response of await Promise.all(taken)) {
      assert.equal(response.status, 502, JSON.stringify(response.body));
      assert.equal(response.body.error.code, 'opencode_failed');
    }
    const answers = await Promise.all(queued);
    for (const response of answers) {
      assert.equal(response.status, 200, `a queued message failed: ${JSON.stringify(response.body)}`);
    }
    const served = await serveMessages();
    assert.deepEqual(
      served
        .filter((m) => m.pid === dead.pid && m.message !== 'warm-up')
        .map((m) => String(m.message))
        .sort(),
      ['taken c0', 'taken c1'],
      'the dead server had other turns than the two taken',
    );
    // Each queued message ran exactly once: on the restarted server, or per-message while it restarted.
    const runs = await readJsonLines(path.join(svc.recordDir, 'runs.jsonl'));
    for (const [i, id] of ['q0', 'q1', 'q2', 'q3', 'q4'].entries()) {
      const where = [
        ...served.filter((m) => m.message === `queued ${id}`).map(() => 'server'),
        ...runs.filter((r) => r.message === `queued ${id}`).map(() => 'per-message'),
      ];
      assert.deepEqual(where, [answers[i]?.body.mode], `queued ${id} ran ${JSON.stringify(where)}`);
    }
  });
});

describe('server mode, a connection that breaks mid-turn', () => {
  let svc: TestService;
  before(async () => {
    // No periodic probes: every health call after the start is one the manager chose to make.
    svc = await startTestService({ OCPM_MODE: 'server', OCPM_HEALTH_INTERVAL_MS: '600000' });
  });
  after(async () => {
    await svc.close();
  });

  it('fails that turn, and the next turn goes to the instance only after a health check passes', async () => {
    const url = (p: string): string => `${svc.url}${p}`;
    const healthCalls = async (): Promise<number> =>
      (await readJsonLines(path.join(svc.recordDir, 'serve-requests.jsonl'))).filter((r) => r.path === '/global/health').length;
    await call(url('/api/sessions/d'), 'PUT', { workspace: 'd' });
    assert.equal((await call(url('/api/sessions/d/messages'), 'POST', { text: 'first' })).status, 200);
    const before = await healthCalls();
    const broken = await call(url('/api/sessions/d/messages'), 'POST', { text: '#fake drop\nlost answer' });
    assert.equal(broken.status, 502);
    assert.equal(broken.body.error.code, 'opencode_failed');
    assert.equal(await healthCalls(), before, 'a health check ran before the next turn needed one');
    const next = await call(url('/api/sessions/d/messages'), 'POST', { text: 'after' });
    assert.equal(next.status, 200, JSON.stringify(next.body));
    assert.equal(next.body.mode, 'server');
    assert.equal(await healthCalls(), before + 1);
    assert.equal((await call(url('/api/sessions/d/messages'), 'POST', { text: 'again' })).status, 200);
    assert.equal(await healthCalls(), before + 1, 'a healthy instance was checked again');
  });
});

describe('server mode, a broken connection and then a failing health check', () => {
  let svc: TestService;
  before(async () => {
    // Health answers only the start's first check; no periodic probes to replace the instance.
    svc = await startTestService({ OCPM_MODE: 'server', OCPM_HEALTH_INTERVAL_MS: '600000', FAKE_OPENCODE_SERVE_HEALTH_FAIL_AFTER: '1' });
  });
  after(async () => {
    await svc.close();
  });

  it('runs the next message per-message rather than on the instance that failed the check', async () => {
    const url = (p: string): string => `${svc.url}${p}`;
    await call(url('/api/sessions/h'), 'PUT', { workspace: 'h' });
    assert.equal((await call(url('/api/sessions/h/messages'), 'POST', { text: 'first' })).body.mode, 'server');
    assert.equal((await call(url('/api/sessions/h/messages'), 'POST', { text: '#fake drop\nlost' })).status, 502);
    const next = await call(url('/api/sessions/h/messages'), 'POST', { text: 'next' });
    assert.equal(next.status, 200, JSON.stringify(next.body));
    assert.equal(next.body.mode, 'per-message');
    const metrics = (await call(url('/metrics'), 'GET')).body as string;
    assert.equal(sample(metrics, 'opencode_manager_health_check_failures_total', { class: 'bad_status' }), 1);
  });
});

// A crash loop, once for each restart reason, each driven by a fault knob of the fake so that which
// reason is counted never depends on timing: crashes after the instance was ready are `exit`,
// failures before it got ready are `start_failed`.
const CRASH_LOOP_ENV = { OCPM_MODE: 'server', OCPM_MAX_RESTARTS: '2', OCPM_RESTART_BACKOFF_MS: '10', OCPM_SERVER_RETRY_MS: '600000' };

/** Waits until the only instance is `failed`, checks the status says per-message fallback after 2 restarts. */
async function failedWithFallback(svc: TestService): Promise<void> {
  const status = await waitFor('the instance to be marked failed', async () => {
    const body = (await call(`${svc.url}/api/opencode/status`, 'GET')).body;
    return body.processManager.instances[0].state === 'failed' ? body : undefined;
  });
  assert.equal(status.processManager.mode, 'per-session');
  assert.equal(status.processManager.isRunning, false);
  assert.match(status.processManager.description, /fallback/);
  assert.equal(status.processManager.instances[0].restarts, 2);
}

/** Logged when a message is sent per-message because no instance can take it. */
const fellBack = (svc: TestService): boolean =>
  svc.logs.some((line) => line.message === 'No OpenCode server instance can serve: falling back to per-message mode');

/** The restart reasons and serve spawns in /metrics, each exactly. */
async function assertRestarts(svc: TestService, expected: { exit: number; start_failed: number; started: number; failed: number }): Promise<void> {
  const metrics = (await call(`${svc.url}/metrics`, 'GET')).body as string;
  assert.deepEqual(
    {
      exit: sample(metrics, 'opencode_manager_server_restarts_total', { reason: 'exit' }),
      start_failed: sample(metrics, 'opencode_manager_server_restarts_total', { reason: 'start_failed' }),
      started: sample(metrics, 'opencode_manager_process_spawns_total', { kind: 'serve', outcome: 'started' }),
      failed: sample(metrics, 'opencode_manager_process_spawns_total', { kind: 'serve', outcome: 'failed' }),
    },
    expected,
  );
  assert.equal(sample(metrics, 'opencode_manager_server_instances', { state: 'failed' }), 1);
}

describe('server mode, an instance that crashes on every turn', () => {
  let svc: TestService;
  before(async () => {
    // Each server SIGKILLs itself mid-turn on its first message: strictly after it was ready.
    svc = await startTestService({ ...CRASH_LOOP_ENV, FAKE_OPENCODE_SERVE_CRASH_AFTER_MESSAGES: '1' });
  });
  after(async () => {
    await svc.close();
  });
  const url = (p: string): string => `${svc.url}${p}`;
  const instance0 = async () => (await call(url('/api/opencode/status'), 'GET')).body.processManager.instances[0];

  it('restarts it for `exit` up to OCPM_MAX_RESTARTS, marks it failed, and its session goes on per-message', async () => {
    await call(url('/api/sessions/f'), 'PUT', { workspace: 'f' });
    const pids: number[] = [];
    for (const round of [1, 2, 3]) {
      const ready = await waitFor(`instance ready for crash ${round}`, async () => {
        const now = await instance0();
        return now.state === 'ready' && !pids.includes(now.pid) ? now : undefined;
      });
      pids.push(ready.pid);
      const crashed = await call(url('/api/sessions/f/messages'), 'POST', { text: `crash ${round}` });
      assert.equal(crashed.status, 502, JSON.stringify(crashed.body));
      assert.equal(crashed.body.error.code, 'opencode_failed');
    }
    await failedWithFallback(svc);
    await assertRestarts(svc, { exit: 2, start_failed: 0, started: 3, failed: 0 });
    const next = await call(url('/api/sessions/f/messages'), 'POST', { text: 'four' });
    assert.equal(next.status, 200, JSON.stringify(next.body));
    assert.equal(next.body.mode, 'per-message');
    // The crashed turns' messages were stored before each crash: the conversation goes on from them.
    assert.equal(next.body.text, 'fake reply #4 [model=default] [agent=build]: four');
    assert.ok(fellBack(svc));
  });
});

describe('server mode, an instance that never starts', () => {
  let svc: TestService;
  before(async () => {
    // Every start fails the way a taken port does: exit 1 before the listening line.
    svc = await startTestService({ ...CRASH_LOOP_ENV, FAKE_OPENCODE_SERVE_BUSY_PORT: '1' });
  });
  after(async () => {
    await svc.close();
  });
  const url = (p: string): string => `${svc.url}${p}`;

  it('restarts it for `start_failed` up to OCPM_MAX_RESTARTS, marks it failed, and sessions run per-message without losing the conversation', async () => {
    await call(url('/api/sessions/f'), 'PUT', { workspace: 'f' });
    await failedWithFallback(svc);
    await assertRestarts(svc, { exit: 0, start_failed: 2, started: 0, failed: 3 });
    const one = await call(url('/api/sessions/f/messages'), 'POST', { text: 'one' });
    assert.equal(one.status, 200, JSON.stringify(one.body));
    assert.equal(one.body.mode, 'per-message');
    const two = await call(url('/api/sessions/f/messages'), 'POST', { text: 'two' });
    assert.equal(two.body.text, 'fake reply #2 [model=default] [agent=build]: two');
    const metrics = (await call(url('/metrics'), 'GET')).body as string;
    assert.equal(sample(metrics, 'opencode_manager_commands_total', { mode: 'per-message', outcome: 'success' }), 2);
    assert.ok(fellBack(svc));
  });
});

describe('server mode, health checks', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService({
      OCPM_MODE: 'server',
      OCPM_HEALTH_INTERVAL_MS: '100',
      OCPM_HEALTH_TIMEOUT_MS: '300',
      OCPM_HEALTH_FAILURES: '2',
      OCPM_RESTART_BACKOFF_MS: '10',
      OCPM_MAX_RESTARTS: '100',
      FAKE_OPENCODE_SERVE_HEALTH_HANG_AFTER: '3',
    });
  });
  after(async () => {
    await svc.close();
  });

  it('restarts a wedged server (port open, no answers) after consecutive timeouts', async () => {
    const metrics = await waitFor('a restart for health', async () => {
      const text = (await call(`${svc.url}/metrics`, 'GET')).body as string;
      return sample(text, 'opencode_manager_server_restarts_total', { reason: 'health' }) >= 1 ? text : undefined;
    });
    assert.ok(sample(metrics, 'opencode_manager_health_check_failures_total', { class: 'timeout' }) >= 2);
    assert.ok(sample(metrics, 'opencode_manager_health_check_duration_seconds_count') >= 2);
    assert.ok(svc.logs.some((line) => line.message === 'Health check failed' && line.failureClass === 'timeout'));
  });
});

describe('server mode, an instance that never gets ready', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService({
      OCPM_MODE: 'server',
      OCPM_SERVER_START_TIMEOUT_MS: '1000',
      OCPM_MAX_RESTARTS: '0',
      FAKE_OPENCODE_SERVE_NEVER_READY: '1',
    });
  });
  after(async () => {
    await svc.close();
  });

  it('gives up after the start timeout, and messages are served per-message', async () => {
    const status = (await call(`${svc.url}/api/opencode/status`, 'GET')).body;
    assert.equal(status.processManager.instances[0].state, 'failed');
    assert.match(status.processManager.instances[0].lastError, /did not produce the listening line within 1000 ms/);
    assert.equal((await call(`${svc.url}/readyz`, 'GET')).status, 200);
    await call(`${svc.url}/api/sessions/n`, 'PUT', { workspace: 'n' });
    const response = await call(`${svc.url}/api/sessions/n/messages`, 'POST', { text: 'hi' });
    assert.equal(response.status, 200);
    assert.equal(response.body.mode, 'per-message');
    const metrics = (await call(`${svc.url}/metrics`, 'GET')).body as string;
    assert.equal(sample(metrics, 'opencode_manager_process_spawns_total', { kind: 'serve', outcome: 'failed' }), 1);
  });
});

describe('server mode, recovery after failed', () => {
  let svc: TestService;
  let temp: { dir: string; remove: () => Promise<void> };
  let flag: string;
  before(async () => {
    temp = await makeTempDir('recovery');
    flag = path.join(temp.dir, 'crash');
    await writeFile(flag, '');
    // A wrapper that makes the fake server crash while the flag file exists (exec keeps the pid).
    const wrapper = path.join(temp.dir, 'opencode');
    await writeFile(wrapper, `#!/bin/sh\n[ -f "$FAKE_OPENCODE_FLAG_FILE" ] && export FAKE_OPENCODE_SERVE_EXIT_AFTER_MS=200\nexec "${FAKE_OPENCODE}" "$@"\n`, {
      mode: 0o755,
    });
    svc = await startTestService({
      OCPM_MODE: 'server',
      OCPM_OPENCODE_BIN: wrapper,
      OCPM_MAX_RESTARTS: '1',
      OCPM_RESTART_BACKOFF_MS: '10',
      OCPM_SERVER_RETRY_MS: '1000',
      FAKE_OPENCODE_FLAG_FILE: flag,
    });
  });
  after(async () => {
    await svc.close();
    await temp.remove();
  });
  const url = (p: string): string => `${svc.url}${p}`;

  it('serves per-message while failed, then returns to server mode and the same conversation', async () => {
    await call(url('/api/sessions/r'), 'PUT', { workspace: 'r' });
    await waitFor('the instance to fail', async () => (await call(url('/api/opencode/status'), 'GET')).body.processManager.instances[0].state === 'failed');
    const during = await call(url('/api/sessions/r/messages'), 'POST', { text: 'during' });
    assert.equal(during.body.mode, 'per-message');
    await rm(flag);
    await waitFor('server mode to come back', async () => (await call(url('/api/opencode/status'), 'GET')).body.processManager.mode === 'server');
    const back = await call(url('/api/sessions/r/messages'), 'POST', { text: 'back' });
    assert.equal(back.status, 200);
    assert.equal(back.body.mode, 'server');
    assert.equal(back.body.text, 'fake reply #2 [model=default] [agent=build]: back');
    assert.equal(back.body.opencodeSessionId, during.body.opencodeSessionId);
    const metrics = (await call(url('/metrics'), 'GET')).body as string;
    assert.equal(sample(metrics, 'opencode_manager_server_restarts_total', { reason: 'retry' }), 1);
    assert.ok(svc.logs.some((line) => line.message === 'OpenCode server instances serve again: leaving per-message fallback'));
  });
});

describe('server mode, a restart with a turn in flight', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService({
      OCPM_MODE: 'server',
      OCPM_HEALTH_INTERVAL_MS: '100',
      OCPM_HEALTH_FAILURES: '2',
      OCPM_RESTART_DRAIN_MS: '300',
      OCPM_RESTART_BACKOFF_MS: '10',
      OCPM_MAX_RESTARTS: '100',
      FAKE_OPENCODE_SERVE_HEALTH_FAIL_AFTER: '4',
    });
  });
  after(async () => {
    await svc.close();
  });

  it('waits up to OCPM_RESTART_DRAIN_MS for the turn, then aborts it with a clear error', async () => {
    await call(`${svc.url}/api/sessions/d`, 'PUT', { workspace: 'd' });
    const response = await call(`${svc.url}/api/sessions/d/messages`, 'POST', { text: '#fake hang\nx' });
    assert.equal(response.status, 502);
    assert.equal(response.body.error.code, 'opencode_failed');
    assert.match(response.body.error.message, /restarted .*health check failures/);
    const metrics = (await call(`${svc.url}/metrics`, 'GET')).body as string;
    assert.ok(sample(metrics, 'opencode_manager_health_check_failures_total', { class: 'bad_status' }) >= 2);
  });
});
