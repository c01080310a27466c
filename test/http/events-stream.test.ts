// GET /api/events over real HTTP: the snapshot, then only the changes (sessions upserted and removed,
// turns, status), the stream counted in the status, 400 for a query, and 401 without a token.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseSse } from '../../src/util/sse-parser.js';
import { call, callOk, TEST_API_TOKEN, type SseEvent } from '../helpers/http.js';
import { startTestService, type TestService } from '../helpers/test-service.js';

/** Opens the console stream; `next(name)` resolves with the next event of that name (earlier others are skipped). */
async function openConsoleStream(url: string) {
  const controller = new AbortController();
  const response = await fetch(`${url}/api/events`, { headers: { authorization: `Bearer ${TEST_API_TOKEN}` }, signal: controller.signal });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
  const events = parseSse(response.body!)[Symbol.asyncIterator]();
  return {
    async next(name: string): Promise<SseEvent> {
      for (;;) {
        const { value, done } = await events.next();
        if (done === true) throw new Error(`the stream ended before a ${name} event`);
        if (value.event === name) return { event: value.event, data: JSON.parse(value.data) };
      }
    },
    close: () => controller.abort(),
  };
}

describe('GET /api/events', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService({ OCPM_EVENTS_INTERVAL_MS: '100' });
  });
  after(async () => {
    await svc.close();
  });

  it('sends a snapshot, then sessions, turns and status as they change', async () => {
    await callOk(`${svc.url}/api/sessions/first`, 'PUT', { workspace: 'first' });
    const stream = await openConsoleStream(svc.url);
    try {
      const snapshot = (await stream.next('snapshot')).data;
      assert.deepEqual(Object.keys(snapshot), ['status', 'sessions', 'recentTurns', 'pending']);
      assert.deepEqual(
        snapshot.sessions.map((s: { id: string }) => s.id),
        ['first'],
      );
      assert.equal(snapshot.status.activeStreams, 1, 'the stream is counted');
      assert.equal(snapshot.status.detail, 'full', 'the console gets the full status');
      assert.deepEqual(snapshot.pending, { permissions: [], questions: [] });

      await callOk(`${svc.url}/api/sessions/second`, 'PUT', { workspace: 'second' });
      const added = (await stream.next('sessions')).data;
      assert.deepEqual(
        added.upserted.map((s: { id: string }) => s.id),
        ['second'],
        'only the new session',
      );
      assert.deepEqual(added.removed, []);

      await callOk(`${svc.url}/api/sessions/second/messages`, 'POST', { text: 'hello' });
      let turn = (await stream.next('turns')).data.upserted[0];
      while (turn.status === 'running') turn = (await stream.next('turns')).data.upserted[0];
      assert.equal(turn.sessionId, 'second');
      assert.equal(turn.status, 'success');
      assert.equal(turn.text, undefined, 'no answer text in the stream');
      assert.ok(turn.textChars > 0);

      const response = await call(`${svc.url}/api/sessions/first`, 'DELETE');
      assert.equal(response.status, 204);
      let change = (await stream.next('sessions')).data;
      while (change.removed.length === 0) change = (await stream.next('sessions')).data;
      assert.deepEqual(change.removed, ['first']);
    } finally {
      stream.close();
    }
  });

  it('refuses a query string (400) and a missing token (401)', async () => {
    const withQuery = await call(`${svc.url}/api/events?since=1`, 'GET');
    assert.equal(withQuery.status, 400);
    assert.equal(withQuery.body.error.code, 'invalid_request');
    const anonymous = await call(`${svc.url}/api/events`, 'GET', undefined, { authorization: '' });
    assert.equal(anonymous.status, 401);
  });
});
