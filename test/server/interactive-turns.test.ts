// Interactive turns in server mode with the fake `opencode serve`: subagents' requests reach the
// client, the stall timer stops while a person is asked and ends a silent turn otherwise, the policy
// answers by itself, and a deleted session leaves no request behind.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call, openEventStream, type SseEvent } from '../helpers/http.js';
import { sample } from '../helpers/metrics-text.js';
import { startTestService, type TestService } from '../helpers/test-service.js';
import { waitFor } from '../helpers/wait-for.js';

async function metrics(svc: TestService): Promise<string> {
  return (await fetch(`${svc.url}/metrics`)).text();
}

async function pendingOf(svc: TestService, id: string): Promise<{ permissions: Array<{ id: string }>; questions: Array<{ id: string }> }> {
  return (await call(`${svc.url}/api/sessions/${id}/pending`, 'GET')).body;
}

/** Waits until the session has exactly one pending request and returns its id. */
async function onePending(svc: TestService, id: string, kind: 'permissions' | 'questions'): Promise<string> {
  return waitFor(`a pending ${kind} request of ${id}`, async () => {
    const pending = await pendingOf(svc, id);
    return pending[kind].length === 1 ? pending[kind][0]?.id : undefined;
  });
}

describe('server mode: permission requests and questions (fake opencode)', () => {
  let svc: TestService;
  const STALL_MS = 1500;
  before(async () => {
    svc = await startTestService({ OCPM_MODE: 'server', OCPM_STALL_TIMEOUT_MS: String(STALL_MS), OCPM_PERMISSION_TIMEOUT_MS: '60000' });
    for (const id of ['sub', 'patient', 'silent', 'quiz', 'gone', 'resync']) await call(`${svc.url}/api/sessions/${id}`, 'PUT', { workspace: id });
  });
  after(async () => {
    await svc.close();
  });
  const send = (id: string, text: string) => call(`${svc.url}/api/sessions/${id}/messages`, 'POST', { text });

  it("forwards a subagent's permission request as the turn's own, and the answer reaches the child", async () => {
    const events = await openEventStream(`${svc.url}/api/sessions/sub/messages`, { text: '#fake ask subagent patterns=npm%20test\nrun the tests' });
    let request: SseEvent;
    for (;;) {
      const next = await events.next();
      if (next.done === true) throw new Error('the stream ended before the permission event');
      if (next.value.event === 'permission') {
        request = next.value;
        break;
      }
    }
    assert.equal(request.data.sessionId, 'sub');
    assert.deepEqual(request.data.patterns, ['npm test']);
    await call(`${svc.url}/api/sessions/sub/permissions/${request.data.id as string}`, 'POST', { reply: 'once' });
    const rest: SseEvent[] = [];
    for await (const event of events) rest.push(event);
    assert.deepEqual(
      rest.filter((e) => e.event !== 'part').map((e) => e.event),
      ['permission_resolved', 'done'],
    );
    assert.match(rest.at(-1)?.data.text as string, /\[subagent=ses_\w+\] \[permission=once\]$/);
    // The subagent's own parts are not the turn's parts.
    const partSessions = new Set(rest.filter((e) => e.event === 'part').map((e) => JSON.stringify(e.data).match(/"sessionID":"(ses_\w+)"/)?.[1]));
    assert.equal(partSessions.size, 1, `parts of several opencode sessions reached the client: ${[...partSessions].join(', ')}`);
  });

  it('does not count time spent waiting on a person as a stall', async () => {
    const turn = send('patient', '#fake ask patterns=echo%20hi\nplease');
    const requestId = await onePending(svc, 'patient', 'permissions');
    // Longer than the stall timeout, with no opencode event meanwhile.
    await waitFor(
      'the request to wait longer than the stall timeout',
      async () => sample(await metrics(svc), 'opencode_manager_user_wait_oldest_seconds') > (STALL_MS * 1.5) / 1000,
    );
    assert.equal((await call(`${svc.url}/api/sessions/patient`, 'GET')).body.waitingOnUser, true);
    await call(`${svc.url}/api/sessions/patient/permissions/${requestId}`, 'POST', { reply: 'always' });
    const answer = await turn;
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.match(answer.body.text as string, /\[permission=always\]$/);
  });

  it('ends a turn with no event for OCPM_STALL_TIMEOUT_MS as stall_timeout, logs it, and the session answers next', async () => {
    const stalled = await send('silent', '#fake hang\nthink forever');
    assert.equal(stalled.status, 504, JSON.stringify(stalled.body));
    assert.equal(stalled.body.error.code, 'stall_timeout');
    assert.ok(
      svc.logs.some((line) => line.level === 'warn' && line.message === 'Turn stalled: no opencode event in time; ending it' && line.sessionId === 'silent'),
      'no warning was logged for the stall',
    );
    const next = await send('silent', 'hello again');
    assert.equal(next.status, 200, JSON.stringify(next.body));
    assert.match(next.body.text as string, /^fake reply #2 /);
  });

  it('a rejected question ends the turn with permission_denied naming the question', async () => {
    const turn = send('quiz', '#fake question=Which%20colour%3F options=red,blue\npick');
    const requestId = await onePending(svc, 'quiz', 'questions');
    const pending = await pendingOf(svc, 'quiz');
    assert.deepEqual(pending.permissions, []);
    const reply = await call(`${svc.url}/api/sessions/quiz/questions/${requestId}`, 'POST', { reject: true });
    assert.deepEqual(reply.body, { id: requestId, reply: 'reject' });
    const answer = await turn;
    assert.equal(answer.status, 403, JSON.stringify(answer.body));
    assert.equal(answer.body.error.code, 'permission_denied');
    assert.match(answer.body.error.message, /"question" \(Which colour\?\) rejected by the user/);
    assert.equal(sample(await metrics(svc), 'opencode_manager_question_requests_total', { outcome: 'reject' }), 1);
  });

  it('finds a request asked while the event stream was cut, once the stream is back', async () => {
    const turn = send('resync', '#fake ask=webfetch drop-events\nfetch it');
    const requestId = await onePending(svc, 'resync', 'permissions');
    await call(`${svc.url}/api/sessions/resync/permissions/${requestId}`, 'POST', { reply: 'once' });
    const answer = await turn;
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.match(answer.body.text as string, /\[permission=once\]$/);
    assert.equal(sample(await metrics(svc), 'opencode_manager_permission_requests_total', { permission: 'webfetch', outcome: 'once' }), 1);
  });

  it('deleting a session that waits on a person rejects its request and ends the turn', async () => {
    // Another key than bash: the earlier `always` approved `echo *` for the whole server, as opencode does.
    const turn = send('gone', '#fake ask=edit\nwait for me');
    const requestId = await onePending(svc, 'gone', 'permissions');
    assert.equal((await call(`${svc.url}/api/sessions/gone`, 'DELETE')).status, 204);
    const answer = await turn;
    assert.equal(answer.status, 409, JSON.stringify(answer.body));
    assert.equal(answer.body.error.code, 'aborted');
    const late = await call(`${svc.url}/api/sessions/gone/permissions/${requestId}`, 'POST', { reply: 'once' });
    assert.equal(late.status, 404);
    const status = (await call(`${svc.url}/api/opencode/status`, 'GET')).body;
    assert.equal(status.sessionsWaitingOnUser, 0);
    assert.equal(sample(await metrics(svc), 'opencode_manager_permission_requests_total', { permission: 'edit', outcome: 'aborted' }), 1);
  });
});

for (const policy of ['allow', 'deny'] as const) {
  describe(`server mode, OCPM_PERMISSION_POLICY=${policy} (fake opencode)`, () => {
    let svc: TestService;
    before(async () => {
      svc = await startTestService({ OCPM_MODE: 'server', OCPM_PERMISSION_POLICY: policy });
      await call(`${svc.url}/api/sessions/auto`, 'PUT', { workspace: 'auto' });
    });
    after(async () => {
      await svc.close();
    });

    it(`answers permissions by itself (${policy}) and rejects questions, forwarding nothing`, async () => {
      const events: SseEvent[] = [];
      let failure: unknown;
      try {
        for await (const event of await openEventStream(`${svc.url}/api/sessions/auto/messages`, { text: '#fake ask patterns=rm%20x\ngo' })) events.push(event);
      } catch (error) {
        failure = error;
      }
      assert.equal(failure, undefined);
      assert.deepEqual(
        events.filter((e) => e.event !== 'part').map((e) => e.event),
        ['done'],
      );
      // A denial carries a message, so opencode tells the model why and the turn goes on.
      const last = events.at(-1)?.data;
      assert.match(last.text as string, policy === 'allow' ? /\[permission=once\]$/ : /\[permission=reject: .*OCPM_PERMISSION_POLICY=deny.*\]$/);

      const question = await call(`${svc.url}/api/sessions/auto/messages`, 'POST', { text: '#fake question\nask me' });
      assert.equal(question.status, 403, JSON.stringify(question.body));
      assert.match(question.body.error.message, new RegExp(`OCPM_PERMISSION_POLICY=${policy}`));
      const text = await metrics(svc);
      assert.equal(
        sample(text, 'opencode_manager_permission_requests_total', { permission: 'bash', outcome: policy === 'allow' ? 'auto_allow' : 'auto_deny' }),
        1,
      );
      assert.equal(sample(text, 'opencode_manager_question_requests_total', { outcome: 'auto_reject' }), 1);
      assert.equal(sample(text, 'opencode_manager_user_wait_seconds_count'), 0);
    });
  });
}
