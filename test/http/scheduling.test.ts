// Scheduling over real HTTP with the fake opencode: 50 messages to 10 sessions at concurrency 4,
// queue limits answered 429 with Retry-After, the queue timeout, and the stall timeout.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call, streamEvents, TEST_API_TOKEN } from '../helpers/http.js';
import { sample } from '../helpers/metrics-text.js';
import { startTestService, type TestService } from '../helpers/test-service.js';
import { waitFor } from '../helpers/wait-for.js';

describe('scheduling, 50 messages to 10 sessions', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService({ OCPM_MAX_CONCURRENT_TURNS: '4', OCPM_SESSION_QUEUE_LIMIT: '8' });
  });
  after(async () => {
    await svc.close();
  });

  it('keeps each session in order, never runs more than 4 at once, and the counters reconcile', async () => {
    const url = (p: string): string => `${svc.url}${p}`;
    const sessions = Array.from({ length: 10 }, (_, i) => `s${i}`);
    for (const id of sessions) await call(url(`/api/sessions/${id}`), 'PUT', { workspace: id });
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const status = (await call(url('/api/opencode/status'), 'GET')).body;
        peak = Math.max(peak, status.runningTurns, status.runningProcesses);
      }
    })();
    const sends = [];
    for (let m = 0; m < 5; m += 1) {
      for (const id of sessions) sends.push(call(url(`/api/sessions/${id}/messages`), 'POST', { text: `#fake delay=40\n${id}-m${m}` }).then((r) => ({ id, m, r })));
    }
    const results = await Promise.all(sends);
    sampling = false;
    await sampler;
    for (const { id, m, r } of results) {
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.text, `fake reply #${m + 1} [model=default] [agent=build]: ${id}-m${m}`, 'a session ran its messages out of order');
    }
    assert.ok(peak <= 4, `${peak} turns ran at once`);
    assert.ok(peak >= 2, 'the turns never ran concurrently');
    const metrics = (await call(url('/metrics'), 'GET')).body as string;
    const total = ['success', 'error', 'timeout', 'aborted'].reduce((sum, outcome) => sum + sample(metrics, 'opencode_manager_commands_total', { mode: 'per-message', outcome }), 0);
    assert.equal(total, 50);
    assert.equal(sample(metrics, 'opencode_manager_queue_wait_seconds_count'), 50);
    assert.equal(sample(metrics, 'opencode_manager_pending_requests'), 0);
  });
});

describe('scheduling, limits and timeouts', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService({
      OCPM_MAX_CONCURRENT_TURNS: '1',
      OCPM_QUEUE_LIMIT: '2',
      OCPM_SESSION_QUEUE_LIMIT: '1',
      OCPM_QUEUE_TIMEOUT_MS: '60000',
      OCPM_STALL_TIMEOUT_MS: '400',
      OCPM_TURN_TIMEOUT_MS: '60000',
    });
  });
  after(async () => {
    await svc.close();
  });
  const url = (p: string): string => `${svc.url}${p}`;

  it('answers 429 session_queue_full and queue_full with Retry-After, and the queue drains after', async () => {
    for (const id of ['a', 'b', 'c']) await call(url(`/api/sessions/${id}`), 'PUT', { workspace: id });
    const stream = streamEvents(url('/api/sessions/a/messages'), { text: '#fake delay=1000\nfirst' });
    for (let next = await stream.next(); next.done !== true && next.value.data.type !== 'step_start'; next = await stream.next());
    const queuedA = call(url('/api/sessions/a/messages'), 'POST', { text: 'queued a' });
    await waitFor('a queued message', async () => (await call(url('/api/opencode/status'), 'GET')).body.queuedRequests === 1);
    const sessionFull = await call(url('/api/sessions/a/messages'), 'POST', { text: 'too many for a' });
    assert.equal(sessionFull.status, 429);
    assert.equal(sessionFull.body.error.code, 'session_queue_full');
    assert.ok(Number(sessionFull.headers.get('retry-after')) >= 1);
    const queuedB = call(url('/api/sessions/b/messages'), 'POST', { text: 'queued b' });
    await waitFor('two queued messages', async () => (await call(url('/api/opencode/status'), 'GET')).body.queuedRequests === 2);
    const full = await call(url('/api/sessions/c/messages'), 'POST', { text: 'no room' });
    assert.equal(full.status, 429);
    assert.equal(full.body.error.code, 'queue_full');
    assert.ok(Number(full.headers.get('retry-after')) >= 1);
    const sseFull = await fetch(url('/api/sessions/c/messages'), { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${TEST_API_TOKEN}` }, body: JSON.stringify({ text: 'no room' }) });
    assert.equal(sseFull.status, 429, 'a refused stream must be a plain 429, not an event stream');
    await sseFull.body?.cancel();
    for (let next = await stream.next(); next.done !== true; next = await stream.next());
    assert.equal((await queuedA).status, 200);
    assert.equal((await queuedB).status, 200);
    const metrics = (await call(url('/metrics'), 'GET')).body as string;
    assert.equal(sample(metrics, 'opencode_manager_rejected_total', { reason: 'queue_full' }), 2);
    assert.equal(sample(metrics, 'opencode_manager_rejected_total', { reason: 'session_queue_full' }), 1);
  });

  it('ends a turn that prints nothing for OCPM_STALL_TIMEOUT_MS with 504 stall_timeout', async () => {
    const response = await call(url('/api/sessions/a/messages'), 'POST', { text: '#fake hang\nsilent' });
    assert.equal(response.status, 504);
    assert.equal(response.body.error.code, 'stall_timeout');
    const metrics = (await call(url('/metrics'), 'GET')).body as string;
    assert.ok(sample(metrics, 'opencode_manager_commands_total', { mode: 'per-message', outcome: 'timeout' }) >= 1);
  });
});

describe('scheduling, queue timeout', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService({ OCPM_MAX_CONCURRENT_TURNS: '1', OCPM_QUEUE_TIMEOUT_MS: '300' });
  });
  after(async () => {
    await svc.close();
  });

  it('drops a message that waited past OCPM_QUEUE_TIMEOUT_MS with 504 queue_timeout', async () => {
    const url = (p: string): string => `${svc.url}${p}`;
    for (const id of ['x', 'y']) await call(url(`/api/sessions/${id}`), 'PUT', { workspace: id });
    const running = call(url('/api/sessions/x/messages'), 'POST', { text: '#fake delay=1500\nlong' });
    await waitFor('the first turn to run', async () => (await call(url('/api/opencode/status'), 'GET')).body.runningTurns === 1);
    const waited = await call(url('/api/sessions/y/messages'), 'POST', { text: 'waits' });
    assert.equal(waited.status, 504);
    assert.equal(waited.body.error.code, 'queue_timeout');
    assert.equal((await running).status, 200);
    const metrics = (await call(url('/metrics'), 'GET')).body as string;
    assert.equal(sample(metrics, 'opencode_manager_rejected_total', { reason: 'queue_timeout' }), 1);
    assert.equal(sample(metrics, 'opencode_manager_commands_total', { mode: 'per-message', outcome: 'timeout' }), 1);
  });
});
