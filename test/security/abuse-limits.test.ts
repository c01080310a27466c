// Abuse limits and browser rules: per-token message rate (429 rate_limited + Retry-After), a cap on
// open SSE streams per token, CORS closed unless origins are listed, one session per workspace.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call, streamEvents, TEST_API_TOKEN } from '../helpers/http.js';
import { startTestService, type TestService } from '../helpers/test-service.js';

const OTHER_TOKEN = 'other-client-token-5678';
const other = { authorization: `Bearer ${OTHER_TOKEN}` };

describe('message rate limit', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService({ OCPM_API_TOKEN: `${TEST_API_TOKEN},${OTHER_TOKEN}`, OCPM_RATE_LIMIT_PER_MIN: '3' });
    for (const id of ['rate']) assert.equal((await call(`${svc.url}/api/sessions/${id}`, 'PUT', { workspace: id })).status, 201);
  });
  after(async () => {
    await svc.close();
  });
  const url = (p: string): string => `${svc.url}${p}`;

  it('limits message submissions per token per minute, with Retry-After, without touching other tokens', async () => {
    for (let i = 0; i < 3; i += 1) assert.equal((await call(url('/api/sessions/rate/messages'), 'POST', { text: `m${i}` })).status, 200);
    const limited = await call(url('/api/sessions/rate/messages'), 'POST', { text: 'one too many' });
    assert.equal(limited.status, 429);
    assert.equal(limited.body.error.code, 'rate_limited');
    const retryAfter = Number(limited.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${String(retryAfter)}`);
    assert.equal((await call(url('/api/sessions/rate/messages'), 'POST', { text: 'other client' }, other)).status, 200);
    // Other routes are not rate limited.
    assert.equal((await call(url('/api/sessions/rate'), 'GET')).status, 200);
  });
});

describe('SSE stream cap', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService({ OCPM_API_TOKEN: `${TEST_API_TOKEN},${OTHER_TOKEN}`, OCPM_MAX_STREAMS_PER_TOKEN: '1' });
    for (const id of ['stream-a', 'stream-b']) assert.equal((await call(`${svc.url}/api/sessions/${id}`, 'PUT', { workspace: id })).status, 201);
  });
  after(async () => {
    await svc.close();
  });
  const url = (p: string): string => `${svc.url}${p}`;

  it('caps open SSE streams per token and frees the slot when a stream ends', async () => {
    // The first run in a fresh opencode data dir goes alone (DataHomeGate): get it done before hanging one.
    assert.equal((await call(url('/api/sessions/stream-b/messages'), 'POST', { text: 'first run' })).status, 200);
    const first = streamEvents(url('/api/sessions/stream-a/messages'), { text: '#fake hang\nwait here' });
    const started = await first.next();
    assert.equal(started.value?.event, 'part');
    // Same token, second stream: refused before any stream opens (and before any turn starts).
    await assert.rejects(async () => {
      for await (const event of streamEvents(url('/api/sessions/stream-b/messages'), { text: 'second stream' })) void event;
    }, /429.*too_many_streams/);
    assert.equal((await call(url('/api/sessions/stream-b'), 'GET')).body.messageCount, 1, 'the refused stream ran a turn');
    // A plain JSON message from the same token is still served.
    assert.equal((await call(url('/api/sessions/stream-b/messages'), 'POST', { text: 'json is fine' }, other)).status, 200);
    assert.equal((await call(url('/api/sessions/stream-a/abort'), 'POST')).status, 202);
    const rest: string[] = [];
    for await (const event of { [Symbol.asyncIterator]: () => first }) rest.push(event.event);
    assert.equal(rest.at(-1), 'error');
    const again: string[] = [];
    for await (const event of streamEvents(url('/api/sessions/stream-b/messages'), { text: 'now there is room' })) again.push(event.event);
    assert.equal(again.at(-1), 'done');
  });
});

describe('CORS', () => {
  it('sends no CORS headers unless OCPM_CORS_ORIGINS lists the origin', async () => {
    const closed = await startTestService();
    try {
      const response = await call(`${closed.url}/api/sessions`, 'GET', undefined, { origin: 'https://evil.example' });
      assert.equal(response.headers.get('access-control-allow-origin'), null);
      const preflight = await fetch(`${closed.url}/api/sessions`, {
        method: 'OPTIONS',
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
      });
      assert.equal(preflight.headers.get('access-control-allow-origin'), null);
      await preflight.body?.cancel();
    } finally {
      await closed.close();
    }
  });

  it('answers the preflight of a listed origin (without a token) and marks its responses', async () => {
    const open = await startTestService({ OCPM_CORS_ORIGINS: 'https://app.example.com' });
    try {
      const preflight = await fetch(`${open.url}/api/sessions/x/messages`, {
        method: 'OPTIONS',
        headers: {
          origin: 'https://app.example.com',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization, content-type',
        },
      });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get('access-control-allow-origin'), 'https://app.example.com');
      assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /Authorization/);
      const response = await call(`${open.url}/api/sessions`, 'GET', undefined, { origin: 'https://app.example.com' });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('access-control-allow-origin'), 'https://app.example.com');
      const stranger = await call(`${open.url}/api/sessions`, 'GET', undefined, { origin: 'https://app.example.com.evil.example' });
      assert.equal(stranger.headers.get('access-control-allow-origin'), null);
    } finally {
      await open.close();
    }
  });
});

describe('workspace ownership', () => {
  it('refuses a workspace another session uses, or one nested in it, unless sharing is allowed', async () => {
    const svc = await startTestService();
    try {
      const put = (id: string, workspace: string) => call(`${svc.url}/api/sessions/${id}`, 'PUT', { workspace });
      assert.equal((await put('owner', 'team/app')).status, 201);
      for (const [id, workspace] of [
        ['same', 'team/app'],
        ['inner', 'team/app/src'],
        ['outer', 'team'],
        ['absolute', path.join(svc.workspaceRoot, 'team/app')],
      ] as const) {
        const response = await put(id, workspace);
        assert.equal(response.status, 409, `${id}: ${workspace}`);
        assert.equal(response.body.error.code, 'workspace_in_use');
        assert.doesNotMatch(response.body.error.message, /owner/, 'the error names the other session');
      }
      assert.equal((await put('sibling', 'team/app-2')).status, 201, 'a sibling with a common prefix is not nested');
      assert.equal((await put('owner', 'team/app')).status, 200, 'a session may re-register its own workspace');
      assert.equal((await call(`${svc.url}/api/sessions/owner`, 'DELETE')).status, 204);
      assert.equal((await put('same', 'team/app')).status, 201, 'a deleted session frees its workspace');
    } finally {
      await svc.close();
    }
    const shared = await startTestService({ OCPM_ALLOW_SHARED_WORKSPACES: 'true' });
    try {
      assert.equal((await call(`${shared.url}/api/sessions/one`, 'PUT', { workspace: 'common' })).status, 201);
      assert.equal((await call(`${shared.url}/api/sessions/two`, 'PUT', { workspace: 'common' })).status, 201);
    } finally {
      await shared.close();
    }
  });

  it('OCPM_AUTO_CREATE_WORKSPACES gives a session without a workspace <root>/<id>', async () => {
    const svc = await startTestService({ OCPM_AUTO_CREATE_WORKSPACES: 'true' });
    try {
      for (const body of [{}, undefined]) {
        const id = body === undefined ? 'no-body' : 'empty-body';
        const response = await call(`${svc.url}/api/sessions/${id}`, 'PUT', body);
        assert.equal(response.status, 201);
        assert.equal(response.body.workspace, path.join(svc.workspaceRoot, id));
      }
      assert.equal((await call(`${svc.url}/api/sessions/no-body/messages`, 'POST', { text: 'hi' })).status, 200);
    } finally {
      await svc.close();
    }
  });
});
