// Interactive turns with the real opencode binary and the stub model: a bash pattern configured as
// `ask` makes opencode ask permission mid-turn, the `question` tool asks the user; the service forwards
// both, takes the answers, times them out, and leaves the session usable after an abort.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HEADLESS_PERMISSION } from '../fixtures/stub-llm/opencode-config.mjs';
import { parseToolOutput, startStubLlm, toolMessage, type StubLlm } from '../fixtures/stub-llm/server.mjs';
import { makeTempDir } from '../helpers/fixtures.js';
import { call, openEventStream, type SseEvent } from '../helpers/http.js';
import { sample } from '../helpers/metrics-text.js';
import { explain, realOpencodeServiceEnv } from '../helpers/real-opencode.js';
import { startTestService, type TestService } from '../helpers/test-service.js';
import { waitFor } from '../helpers/wait-for.js';

/** Commands starting with `echo ask` need a person's permission; everything else runs. */
const ASKING_POLICY = { ...HEADLESS_PERMISSION, bash: { '*': 'allow', 'echo ask*': 'ask' }, question: 'allow' };
const PERMISSION_TIMEOUT_MS = 4000;

/** Reads events until one named `name` arrives; returns every event read. */
async function until(events: AsyncGenerator<SseEvent>, name: string, seen: SseEvent[] = []): Promise<SseEvent[]> {
  for (;;) {
    const next = await events.next();
    if (next.done === true) throw new Error(`the stream ended before "${name}": ${JSON.stringify(seen.map((e) => e.event))}`);
    seen.push(next.value);
    if (next.value.event === name) return seen;
    if (next.value.event === 'error' || next.value.event === 'done')
      throw new Error(`"${next.value.event}" before "${name}": ${JSON.stringify(next.value.data)}`);
  }
}

describe('real opencode, server mode: permission requests and questions', () => {
  let stub: StubLlm;
  let svc: TestService;
  let temp: { dir: string; remove: () => Promise<void> };
  const url = (p: string): string => `${svc.url}${p}`;

  before(async () => {
    stub = await startStubLlm();
    temp = await makeTempDir('e2e-interactive');
    svc = await startTestService({
      ...(await realOpencodeServiceEnv(stub, `${temp.dir}/home`, ASKING_POLICY)),
      OCPM_MODE: 'server',
      OCPM_DRAIN_TIMEOUT_MS: '1000',
      OCPM_PERMISSION_TIMEOUT_MS: String(PERMISSION_TIMEOUT_MS),
    });
    await call(url('/api/sessions/ask'), 'PUT', { workspace: 'ask' });
  });
  after(async () => {
    await svc.close();
    await stub.close();
    await temp.remove();
  });

  it('streams the permission request, takes "once", and the tool runs; events come in order', async (t) => {
    const startedAt = Date.now();
    const events = await openEventStream(url('/api/sessions/ask/messages'), { text: toolMessage('bash', 'echo ask-once') });
    const seen = await until(events, 'permission');
    t.diagnostic(`time to surface the request (first turn, includes the server's start): ${Date.now() - startedAt} ms`);
    const request = seen.at(-1)?.data as { id: string; sessionId: string; permission: string; patterns: string[]; expiresAt: string };
    assert.equal(request.sessionId, 'ask');
    assert.equal(request.permission, 'bash');
    assert.deepEqual(request.patterns, ['echo ask-once']);
    assert.ok(Date.parse(request.expiresAt) > Date.now());

    const session = (await call(url('/api/sessions/ask'), 'GET')).body;
    assert.equal(session.waitingOnUser, true);
    assert.equal(session.pendingUserRequests, 1);
    assert.equal((await call(url('/api/opencode/status'), 'GET')).body.sessionsWaitingOnUser, 1);
    assert.equal(sample(await (await fetch(url('/metrics'))).text(), 'opencode_manager_sessions_waiting_on_user'), 1);

    const answeredAt = Date.now();
    const reply = await call(url(`/api/sessions/ask/permissions/${request.id}`), 'POST', { reply: 'once' });
    assert.deepEqual(reply.body, { id: request.id, reply: 'once' });
    const again = await call(url(`/api/sessions/ask/permissions/${request.id}`), 'POST', { reply: 'reject' });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'request_already_answered');

    const rest = await until(events, 'done');
    t.diagnostic(`answer to done: ${Date.now() - answeredAt} ms`);
    const names = [...seen, ...rest].map((e) => e.event).filter((e) => e !== 'part');
    assert.deepEqual(names, ['permission', 'permission_resolved', 'done']);
    assert.deepEqual(rest.find((e) => e.event === 'permission_resolved')?.data, { id: request.id, sessionId: 'ask', outcome: 'once' });
    assert.equal(parseToolOutput(rest.at(-1)?.data.text as string), 'ask-once\n');
    assert.equal((await call(url('/api/sessions/ask'), 'GET')).body.waitingOnUser, false);
    const metrics = await (await fetch(url('/metrics'))).text();
    assert.equal(sample(metrics, 'opencode_manager_permission_requests_total', { permission: 'bash', outcome: 'once' }), 1);
  });

  it('a JSON client finds the request under /pending; a rejection ends the turn with permission_denied', async (t) => {
    const startedAt = Date.now();
    const turn = call(url('/api/sessions/ask/messages'), 'POST', { text: toolMessage('bash', 'echo ask-reject') });
    const pending = await waitFor('the pending permission', async () => {
      const body = (await call(url('/api/sessions/ask/pending'), 'GET')).body;
      return body.permissions.length === 1 ? body : undefined;
    });
    t.diagnostic(`time to surface the request (warm server): ${Date.now() - startedAt} ms`);
    assert.deepEqual(pending.questions, []);
    await call(url(`/api/sessions/ask/permissions/${pending.permissions[0].id}`), 'POST', { reply: 'reject' });
    const answer = await turn;
    assert.equal(answer.status, 403, explain(svc, answer));
    assert.equal(answer.body.error.code, 'permission_denied');
    assert.match(answer.body.error.message, /"bash" \(echo ask-reject\) rejected by the user/);
  });

  it('an unanswered request is rejected at the timeout, the model is told, and the turn goes on', async () => {
    const answer = await call(url('/api/sessions/ask/messages'), 'POST', { text: toolMessage('bash', 'echo ask-nobody') });
    assert.equal(answer.status, 200, explain(svc, answer));
    assert.match(parseToolOutput(answer.body.text as string) ?? '', /did not answer/);
    const metrics = await (await fetch(url('/metrics'))).text();
    assert.equal(sample(metrics, 'opencode_manager_permission_requests_total', { permission: 'bash', outcome: 'timeout' }), 1);
  });

  it('forwards a question and gives the model the answer', async () => {
    const question = {
      questions: [
        {
          question: 'Pick a colour',
          header: 'Colour',
          options: [
            { label: 'red', description: 'warm' },
            { label: 'blue', description: 'cold' },
          ],
        },
      ],
    };
    const events = await openEventStream(url('/api/sessions/ask/messages'), { text: toolMessage('question', question) });
    const seen = await until(events, 'question');
    const asked = seen.at(-1)?.data as { id: string; questions: Array<{ question: string; options: Array<{ label: string }> }> };
    assert.equal(asked.questions[0]?.question, 'Pick a colour');
    assert.deepEqual(
      asked.questions[0]?.options.map((o) => o.label),
      ['red', 'blue'],
    );
    const reply = await call(url(`/api/sessions/ask/questions/${asked.id}`), 'POST', { answers: [['blue']] });
    assert.deepEqual(reply.body, { id: asked.id, reply: 'answered' });
    const rest = await until(events, 'done');
    assert.deepEqual(rest.find((e) => e.event === 'question_resolved')?.data.outcome, 'answered');
    assert.match(parseToolOutput(rest.at(-1)?.data.text as string) ?? '', /blue/);
  });

  it('an abort while waiting rejects the request, and the next message answers normally', async (t) => {
    const turn = call(url('/api/sessions/ask/messages'), 'POST', { text: toolMessage('bash', 'echo ask-abort') });
    const pending = await waitFor('the pending permission', async () => {
      const body = (await call(url('/api/sessions/ask/pending'), 'GET')).body;
      return body.permissions.length === 1 ? body : undefined;
    });
    const abortedAt = Date.now();
    assert.equal((await call(url('/api/sessions/ask/abort'), 'POST')).status, 202);
    const aborted = await turn;
    t.diagnostic(`abort to the aborted answer (opencode idle): ${Date.now() - abortedAt} ms`);
    assert.equal(aborted.status, 409, explain(svc, aborted));
    assert.equal(aborted.body.error.code, 'aborted');
    const late = await call(url(`/api/sessions/ask/permissions/${pending.permissions[0].id}`), 'POST', { reply: 'once' });
    assert.equal(late.status, 409);
    const next = await call(url('/api/sessions/ask/messages'), 'POST', { text: 'hello again MARK:after' });
    assert.equal(next.status, 200, explain(svc, next));
    assert.match(next.body.text as string, /marker=after$/);
    const metrics = await (await fetch(url('/metrics'))).text();
    assert.equal(sample(metrics, 'opencode_manager_permission_requests_total', { permission: 'bash', outcome: 'aborted' }), 1);
  });
});

for (const policy of ['ask', 'allow'] as const) {
  describe(`real opencode, per-message mode, OCPM_PERMISSION_POLICY=${policy}`, () => {
    let stub: StubLlm;
    let svc: TestService;
    let temp: { dir: string; remove: () => Promise<void> };
    const url = (p: string): string => `${svc.url}${p}`;
    before(async () => {
      stub = await startStubLlm();
      temp = await makeTempDir(`e2e-run-${policy}`);
      svc = await startTestService({
        ...(await realOpencodeServiceEnv(stub, `${temp.dir}/home`, ASKING_POLICY)),
        OCPM_MODE: 'per-message',
        OCPM_PERMISSION_POLICY: policy,
      });
      await call(url('/api/sessions/run'), 'PUT', { workspace: 'run' });
    });
    after(async () => {
      await svc.close();
      await stub.close();
      await temp.remove();
    });

    if (policy === 'ask') {
      it('cannot ask anyone: the permission is denied, and the answer says so (not empty_response)', async () => {
        const answer = await call(url('/api/sessions/run/messages'), 'POST', { text: toolMessage('bash', 'echo ask-run') });
        assert.equal(answer.status, 403, explain(svc, answer));
        assert.equal(answer.body.error.code, 'permission_denied');
        assert.match(answer.body.error.message, /"bash" \(echo ask-run\) rejected by opencode run: per-message mode cannot ask anyone/);
        const metrics = await (await fetch(url('/metrics'))).text();
        assert.equal(sample(metrics, 'opencode_manager_permission_requests_total', { permission: 'bash', outcome: 'auto_deny' }), 1);
      });
    } else {
      it('approves the permission with `run --auto`, and the tool runs', async () => {
        const answer = await call(url('/api/sessions/run/messages'), 'POST', { text: toolMessage('bash', 'echo ask-auto') });
        assert.equal(answer.status, 200, explain(svc, answer));
        assert.equal(parseToolOutput(answer.body.text as string), 'ask-auto\n');
      });
    }
  });
}
