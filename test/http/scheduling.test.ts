// Scheduling over real HTTP with the fake opencode: the concurrency limit held and released step by
// step, 50 messages to 10 sessions in order, queue limits answered 429 with Retry-After, the queue
// timeout, and the stall timeout.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call, streamEvents, TEST_API_TOKEN } from '../helpers/http.js';
import { readJsonLines } from '../helpers/json-lines.js';
import { sample } from '../helpers/metrics-text.js';
import { startTestService, type TestService } from '../helpers/test-service.js';
import { waitFor } from '../helpers/wait-for.js';

describe('scheduling, 10 sessions at concurrency 4', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService({ OCPM_MAX_CONCURRENT_TURNS: '4', OCPM_SESSION_QUEUE_LIMIT: '8' });
  });
  after(async () => {
    await svc.close();
  });
  const url = (p: string): string => `${svc.url}${p}`;

  it('runs exactly 4 turns at once with 10 waiting, and each freed slot starts exactly one queued message', async () => {
    const sessions = Array.from({ length: 10 }, (_, i) => `h${i}`);
    for (const id of [...sessions, 'warm']) await call(url(`/api/sessions/${id}`), 'PUT', { workspace: id });
    // The first run in a fresh data dir goes alone (it creates opencode's database): one finished turn first.
    assert.equal((await call(url('/api/sessions/warm/messages'), 'POST', { text: 'warm up' })).status, 200);
    const spawnsTotal = async (): Promise<number> =>
      sample((await call(url('/metrics'), 'GET')).body as string, 'opencode_manager_process_spawns_total', { kind: 'run', outcome: 'started' });
    const spawnsBefore = await spawnsTotal();
    const spawned = async (): Promise<number> => (await spawnsTotal()) - spawnsBefore;
    // Every turn hangs until it is aborted, so the state below stays put until the test changes it.
    const answers = new Map(sessions.map((id) => [id, call(url(`/api/sessions/${id}/messages`), 'POST', { text: `#fake hang\nheld ${id}` })]));
    const started = async (): Promise<string[]> =>
      (await readJsonLines(path.join(svc.recordDir, 'runs.jsonl')))
        .map((run) => String(run.message))
        .filter((m) => m.startsWith('held '))
        .map((m) => m.slice(5));
    /** Waits until every message is running or queued and every running turn's fake has started, then reads that state. */
    const settled = async (messages: number) =>
      waitFor(`${messages} messages running or queued`, async () => {
        const status = (await call(url('/api/opencode/status'), 'GET')).body;
        const runs = await started();
        return status.runningTurns + status.queuedRequests === messages && runs.length === status.runningTurns + (10 - messages) ? { status, runs } : undefined;
      });
    const first = await settled(10);
    assert.equal(first.status.runningTurns, 4);
    assert.equal(first.status.queuedRequests, 6);
    assert.equal(first.status.runningProcesses, 4);
    assert.equal(first.runs.length, 4);
    assert.equal(await spawned(), 4);
    const ended = new Set<string>();
    for (let k = 1; k <= 10; k += 1) {
      const id = (await started()).find((s) => !ended.has(s)) as string;
      assert.equal((await call(url(`/api/sessions/${id}/abort`), 'POST')).status, 202);
      const answer = await answers.get(id);
      assert.equal(answer?.status, 409, JSON.stringify(answer?.body));
      ended.add(id);
      const now = await settled(10 - k);
      assert.equal(now.status.runningTurns, Math.min(4, 10 - k), `after ${k} aborts`);
      assert.equal(now.runs.length, Math.min(10, 4 + k), `after ${k} aborts`);
      assert.equal(await spawned(), Math.min(10, 4 + k), `after ${k} aborts`);
    }
    assert.deepEqual((await started()).sort(), [...sessions].sort(), 'every message ran exactly once');
  });

  it('keeps each session in order over 50 messages, and the counters reconcile', async () => {
    const sessions = Array.from({ length: 10 }, (_, i) => `s${i}`);
    for (const id of sessions) await call(url(`/api/sessions/${id}`), 'PUT', { workspace: id });
    const before = (await call(url('/metrics'), 'GET')).body as string;
    const sends = [];
    for (let m = 0; m < 5; m += 1) {
      for (const id of sessions)
        sends.push(call(url(`/api/sessions/${id}/messages`), 'POST', { text: `#fake delay=40\n${id}-m${m}` }).then((r) => ({ id, m, r })));
    }
    const results = await Promise.all(sends);
    for (const { id, m, r } of results) {
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.text, `fake reply #${m + 1} [model=default] [agent=build]: ${id}-m${m}`, 'a session ran its messages out of order');
    }
    const metrics = (await call(url('/metrics'), 'GET')).body as string;
    const delta = (name: string, labels: Record<string, string> = {}): number => sample(metrics, name, labels) - sample(before, name, labels);
    assert.equal(delta('opencode_manager_commands_total', { mode: 'per-message', outcome: 'success' }), 50);
    const total = ['success', 'error', 'timeout', 'aborted'].reduce(
      (sum, outcome) => sum + delta('opencode_manager_commands_total', { mode: 'per-message', outcome }),
      0,
    );
    assert.equal(total, 50);
    assert.equal(delta('opencode_manager_queue_wait_seconds_count'), 50);
    assert.equal(sample(metrics, 'opencode_manager_pending_requests'), 0);
  });
});

// The first turn of each test below hangs until the test aborts it: the queue is built and checked
// while it runs, with no time window to race.
describe('scheduling, queue limits', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService({
      OCPM_MAX_CONCURRENT_TURNS: '1',
      OCPM_QUEUE_LIMIT: '2',
      OCPM_SESSION_QUEUE_LIMIT: '1',
      OCPM_QUEUE_TIMEOUT_MS: '60000',
      OCPM_TURN_TIMEOUT_MS: '60000',
    });
  });
  after(async () => {
    await svc.close();
  });
  const url = (p: string): string => `${svc.url}${p}`;

  it('answers 429 session_queue_full and queue_full with Retry-After, and the queue drains after', async () => {
    for (const id of ['a', 'b', 'c']) await call(url(`/api/sessions/${id}`), 'PUT', { workspace: id });
    const stream = streamEvents(url('/api/sessions/a/messages'), { text: '#fake hang\nfirst' });
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
    const sseFull = await fetch(url('/api/sessions/c/messages'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${TEST_API_TOKEN}` },
      body: JSON.stringify({ text: 'no room' }),
    });
    assert.equal(sseFull.status, 429, 'a refused stream must be a plain 429, not an event stream');
    await sseFull.body?.cancel();
    assert.equal((await call(url('/api/sessions/a/abort'), 'POST')).status, 202);
    let last: { event: string; data: any } | undefined;
    for (let next = await stream.next(); next.done !== true; next = await stream.next()) last = next.value;
    assert.equal(last?.event, 'error');
    assert.equal(last?.data.error.code, 'aborted');
    assert.equal((await queuedA).status, 200);
    assert.equal((await queuedB).status, 200);
    const metrics = (await call(url('/metrics'), 'GET')).body as string;
    assert.equal(sample(metrics, 'opencode_manager_rejected_total', { reason: 'queue_full' }), 2);
    assert.equal(sample(metrics, 'opencode_manager_rejected_total', { reason: 'session_queue_full' }), 1);
  });
});

describe('scheduling, stall timeout', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService({ OCPM_STALL_TIMEOUT_MS: '400', OCPM_TURN_TIMEOUT_MS: '60000' });
  });
  after(async () => {
    await svc.close();
  });

  it('ends a turn that prints nothing for OCPM_STALL_TIMEOUT_MS with 504 stall_timeout', async () => {
    const url = (p: string): string => `${svc.url}${p}`;
    await call(url('/api/sessions/a'), 'PUT', { workspace: 'a' });
    const response = await call(url('/api/sessions/a/messages'), 'POST', { text: '#fake hang\nsilent' });
    assert.equal(response.status, 504);
    assert.equal(response.body.error.code, 'stall_timeout');
    const metrics = (await call(url('/metrics'), 'GET')).body as string;
    assert.equal(sample(metrics, 'opencode_manager_commands_total', { mode: 'per-message', outcome: 'timeout' }), 1);
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
    const running = call(url('/api/sessions/x/messages'), 'POST', { text: '#fake hang\nlong' });
    await waitFor('the first turn to run', async () => (await call(url('/api/opencode/status'), 'GET')).body.runningTurns === 1);
    const waited = await call(url('/api/sessions/y/messages'), 'POST', { text: 'waits' });
    assert.equal(waited.status, 504);
    assert.equal(waited.body.error.code, 'queue_timeout');
    assert.equal((await call(url('/api/sessions/x/abort'), 'POST')).status, 202);
    assert.equal((await running).status, 409);
    const metrics = (await call(url('/metrics'), 'GET')).body as string;
    assert.equal(sample(metrics, 'opencode_manager_rejected_total', { reason: 'queue_timeout' }), 1);
    assert.equal(sample(metrics, 'opencode_manager_commands_total', { mode: 'per-message', outcome: 'timeout' }), 1);
  });
});
