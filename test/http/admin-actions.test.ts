// The admin actions over real HTTP with the fake opencode: a session's state, the paged session
// list, the reset of a stuck session (both modes), and the drained restart of a server instance.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call, type JsonResponse } from '../helpers/http.js';
import { sample } from '../helpers/metrics-text.js';
import { startTestService, type TestService } from '../helpers/test-service.js';
import { waitFor } from '../helpers/wait-for.js';

interface Session {
  id: string;
  state: string;
  busy: boolean;
  opencodeSessionId: string | null;
  messageCount: number;
  pendingUserRequests: number;
}

interface Instance {
  id: string;
  pid: number | null;
  state: string;
  restarts: number;
  activeTurns: number;
}

function client(svc: () => TestService) {
  const url = (p: string): string => `${svc().url}${p}`;
  return {
    put: (id: string) => call(url(`/api/sessions/${id}`), 'PUT', { workspace: id }),
    send: (id: string, text: string): Promise<JsonResponse<any>> => call(url(`/api/sessions/${id}/messages`), 'POST', { text }),
    session: async (id: string): Promise<Session> => (await call(url(`/api/sessions/${id}`), 'GET')).body as Session,
    list: (query = '') => call(url(`/api/sessions${query}`), 'GET'),
    reset: (id: string, body?: unknown) => call(url(`/api/sessions/${id}/reset`), 'POST', body),
    restart: (name: string, query = '') => call(url(`/api/instances/${name}/restart${query}`), 'POST'),
    instances: async (): Promise<Instance[]> => (await call(url('/api/opencode/status'), 'GET')).body.processManager.instances as Instance[],
    url,
  };
}

/** The answer's `fake reply #N` count: the user messages of its opencode conversation. */
function replyCount(response: JsonResponse<any>): number {
  assert.equal(response.status, 200, JSON.stringify(response.body));
  const match = /^fake reply #(\d+) /.exec(response.body.text as string);
  assert.ok(match !== null, `not a fake reply: ${String(response.body.text)}`);
  return Number(match[1]);
}

describe('admin actions, per-message mode', () => {
  let svc: TestService;
  const api = client(() => svc);
  before(async () => {
    svc = await startTestService({ OCPM_MAX_CONCURRENT_TURNS: '1' });
  });
  after(async () => {
    await svc.close();
  });

  it('lists sessions in id order, one page at a time, with the total and the next offset', async () => {
    for (const id of ['page-c', 'page-a', 'page-e', 'page-b', 'page-d']) assert.equal((await api.put(id)).status, 201);
    const all = await api.list();
    assert.equal(all.status, 200);
    assert.deepEqual(
      all.body.sessions.map((s: Session) => s.id),
      ['page-a', 'page-b', 'page-c', 'page-d', 'page-e'],
    );
    assert.deepEqual([all.body.total, all.body.limit, all.body.offset, all.body.nextOffset], [5, 100, 0, undefined]);
    assert.ok(all.body.sessions.every((s: Session) => s.state === 'idle'));

    const first = await api.list('?limit=2');
    assert.deepEqual(
      first.body.sessions.map((s: Session) => s.id),
      ['page-a', 'page-b'],
    );
    assert.equal(first.body.nextOffset, 2);
    const last = await api.list(`?limit=2&offset=4`);
    assert.deepEqual(
      last.body.sessions.map((s: Session) => s.id),
      ['page-e'],
    );
    assert.equal(last.body.total, 5);
    assert.equal('nextOffset' in last.body, false);
    const beyond = await api.list('?offset=50');
    assert.deepEqual([beyond.body.sessions.length, beyond.body.total], [0, 5]);
    const busyNone = await api.list('?state=busy');
    assert.deepEqual([busyNone.body.sessions.length, busyNone.body.total], [0, 0]);
    for (const id of ['page-a', 'page-b', 'page-c', 'page-d', 'page-e']) assert.equal((await call(api.url(`/api/sessions/${id}`), 'DELETE')).status, 204);
  });

  it('refuses a bad state, limit or offset with 400 invalid_request', async () => {
    for (const query of ['?state=sleeping', '?limit=0', '?limit=1001', '?limit=abc', '?offset=-1', '?offset=1.5', '?sort=id', '?state=idle&state=busy']) {
      const response = await api.list(query);
      assert.equal(response.status, 400, query);
      assert.equal(response.body.error.code, 'invalid_request', query);
    }
    assert.equal((await api.list('?limit=1000')).status, 200);
  });

  it('says which session is busy and which is queued, and a reset aborts both its turn and its queued messages', async () => {
    await api.put('stuck');
    await api.put('waiting');
    const running = api.send('stuck', '#fake hang\nnever ends');
    await waitFor('the turn to run', async () => (await api.session('stuck')).state === 'busy');
    // One turn at a time (OCPM_MAX_CONCURRENT_TURNS=1): the other session's message waits.
    const queuedElsewhere = api.send('waiting', 'after you');
    const queuedHere = api.send('stuck', 'me too');
    await waitFor('both messages to wait', async () => (await api.session('waiting')).state === 'queued');
    assert.equal((await api.session('stuck')).state, 'busy', 'running outranks queued');
    assert.deepEqual(
      (await api.list('?state=queued')).body.sessions.map((s: Session) => s.id),
      ['waiting'],
    );
    assert.deepEqual(
      (await api.list('?state=busy')).body.sessions.map((s: Session) => s.id),
      ['stuck'],
    );

    const reset = await api.reset('stuck');
    assert.equal(reset.status, 200, JSON.stringify(reset.body));
    assert.equal(reset.body.id, 'stuck');
    assert.equal(reset.body.state, 'idle');
    assert.equal(reset.body.opencodeSessionId, null);
    const [turn, ownQueued] = await Promise.all([running, queuedHere]);
    assert.equal(turn.status, 409);
    assert.equal(turn.body.error.code, 'aborted');
    assert.equal(ownQueued.status, 409);
    assert.equal(ownQueued.body.error.code, 'aborted');
    // The other session's message was not touched: it runs once the slot is free.
    assert.equal(replyCount(await queuedElsewhere), 1);
    assert.ok(
      svc.logs.some(
        (line) => line.message === 'Session reset: its turn and queued messages were aborted and its conversation forgotten' && line.sessionId === 'stuck',
      ),
    );
  });

  it('a message after a reset starts a new conversation; the record and the history stay', async () => {
    await api.put('fresh');
    assert.equal(replyCount(await api.send('fresh', 'one')), 1);
    assert.equal(replyCount(await api.send('fresh', 'two')), 2);
    const before = await api.session('fresh');
    assert.notEqual(before.opencodeSessionId, null);
    const reset = await api.reset('fresh', {});
    assert.equal(reset.status, 200);
    assert.equal(reset.body.opencodeSessionId, null);
    assert.equal(reset.body.messageCount, 2);
    const after = await api.send('fresh', 'three');
    assert.equal(replyCount(after), 1);
    assert.notEqual(after.body.opencodeSessionId, before.opencodeSessionId);
    const history = await call(api.url('/api/sessions/fresh/messages'), 'GET');
    assert.equal(history.body.messages.length, 3);
  });

  it('answers 404 for an unknown session, 400 for a body or query, and 409 not_server_mode for an instance restart', async () => {
    const unknown = await api.reset('nobody');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'session_not_found');
    await api.put('strict');
    assert.equal((await api.reset('strict', { force: true })).status, 400);
    assert.equal((await call(api.url('/api/sessions/strict/reset?now=1'), 'POST')).status, 400);
    const restart = await api.restart('serve-0');
    assert.equal(restart.status, 409);
    assert.equal(restart.body.error.code, 'not_server_mode');
  });
});

describe('admin actions, server mode', () => {
  let svc: TestService;
  const api = client(() => svc);
  before(async () => {
    svc = await startTestService({ OCPM_MODE: 'server', OCPM_POOL_SIZE: '1', OCPM_PERMISSION_TIMEOUT_MS: '60000' });
  });
  after(async () => {
    await svc.close();
  });

  it('says a session waits on the user, and a reset rejects what it waits on and starts a new conversation', async () => {
    await api.put('asker');
    assert.equal(replyCount(await api.send('asker', 'hello')), 1);
    const before = await api.session('asker');
    const turn = api.send('asker', '#fake ask patterns=echo%20hi\nplease');
    await waitFor('the permission request', async () => (await api.session('asker')).state === 'waiting_on_user');
    assert.deepEqual(
      (await api.list('?state=waiting_on_user')).body.sessions.map((s: Session) => s.id),
      ['asker'],
    );
    const reset = await api.reset('asker');
    assert.equal(reset.status, 200, JSON.stringify(reset.body));
    assert.deepEqual([reset.body.state, reset.body.pendingUserRequests, reset.body.opencodeSessionId], ['idle', 0, null]);
    const ended = await turn;
    assert.ok(ended.status >= 400 && ended.status < 500, `the turn answered ${ended.status}: ${JSON.stringify(ended.body)}`);
    assert.deepEqual((await call(api.url('/api/sessions/asker/pending'), 'GET')).body, { permissions: [], questions: [] });
    const next = await api.send('asker', 'again');
    assert.equal(replyCount(next), 1);
    assert.notEqual(next.body.opencodeSessionId, before.opencodeSessionId);
    assert.equal(next.body.mode, 'server');
  });

  it('restarts an instance after its running turn finished: a new pid, and the next message answers', async () => {
    await api.put('steady');
    assert.equal(replyCount(await api.send('steady', 'first')), 1);
    const [old] = await api.instances();
    assert.ok(old !== undefined && old.pid !== null);
    const order: string[] = [];
    const turn = api.send('steady', '#fake delay=1500\nslow one').then((response) => {
      order.push('turn');
      return response;
    });
    await waitFor('the turn to run on the instance', async () => (await api.instances())[0]?.activeTurns === 1);
    const restart = await api.restart(old.id);
    order.push('restart');
    assert.equal(restart.status, 200, JSON.stringify(restart.body));
    assert.deepEqual(order, ['turn', 'restart'], 'the restart answered before the running turn finished');
    assert.equal(replyCount(await turn), 2);
    assert.equal(restart.body.id, old.id);
    assert.equal(restart.body.state, 'ready');
    assert.notEqual(restart.body.pid, old.pid);
    assert.equal(restart.body.restarts, old.restarts + 1);
    const next = await api.send('steady', 'after the restart');
    assert.equal(next.body.mode, 'server');
    // The slot's data dir outlives the instance: the conversation goes on.
    assert.equal(replyCount(next), 3);
    const metrics = await call(api.url('/metrics'), 'GET');
    assert.equal(sample(metrics.body as string, 'opencode_manager_server_restarts_total', { reason: 'operator' }), 1);
  });

  it('aborts a turn still running when the drain time is up', async () => {
    await api.put('hanging');
    const turn = api.send('hanging', '#fake hang\nforever');
    await waitFor('the turn to run on the instance', async () => (await api.instances())[0]?.activeTurns === 1);
    const [old] = await api.instances();
    const restart = await api.restart('serve-0', '?timeoutMs=100');
    assert.equal(restart.status, 200, JSON.stringify(restart.body));
    assert.notEqual(restart.body.pid, old?.pid);
    const ended = await turn;
    assert.notEqual(ended.status, 200);
    assert.equal(replyCount(await api.send('hanging', 'are you there')), 2);
  });

  it('answers 404 instance_not_found for an unknown instance and 400 for a bad drain time', async () => {
    const unknown = await api.restart('serve-9');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'instance_not_found');
    for (const query of ['?timeoutMs=-5', '?timeoutMs=300001', '?timeoutMs=soon', '?wait=1']) {
      const response = await api.restart('serve-0', query);
      assert.equal(response.status, 400, query);
      assert.equal(response.body.error.code, 'invalid_request');
    }
    assert.equal((await api.restart('bad.name')).status, 400);
  });
});
