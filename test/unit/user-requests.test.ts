// The broker of permission requests and questions: forwarding, answers (once each), the timeout, the
// policy, aborts, and what the metrics count. Responders are plain recorders (no opencode here).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OcpmError } from '../../src/errors/errors.js';
import { createSilentLogger } from '../../src/logging/logger.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { userRequestRecorder } from '../../src/metrics/user-request-metrics.js';
import type { UserRequestEvent } from '../../src/manager/user-requests/user-request.js';
import { lostPermissionError, timeoutMessage, UserRequests, type PermissionResponder } from '../../src/manager/user-requests/user-requests.js';

function setup() {
  const metrics = createMetrics({ collectDefault: false });
  const broker = new UserRequests(userRequestRecorder(metrics), createSilentLogger());
  return { metrics, broker };
}

/** A responder that records each reply and resolves `replied` with the first. */
function recorder() {
  const calls: Array<{ reply: string; message: string | undefined }> = [];
  let resolve!: (call: { reply: string; message: string | undefined }) => void;
  const replied = new Promise<{ reply: string; message: string | undefined }>((r) => (resolve = r));
  const responder: PermissionResponder = {
    reply: (reply, message) => {
      calls.push({ reply, message });
      resolve({ reply, message });
      return Promise.resolve();
    },
  };
  return { calls, replied, responder };
}

async function counter(metrics: ReturnType<typeof createMetrics>, name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const value = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => (v.labels as Record<string, unknown>)[k] === l));
  return value?.value ?? 0;
}

const asked = { id: 'per_1', permission: 'bash', patterns: ['echo ask-me'], metadata: { command: 'echo ask-me' } };

describe('UserRequests', () => {
  it('forwards a permission under ask, takes one answer, and tells the client in order', async () => {
    const { metrics, broker } = setup();
    const events: UserRequestEvent[] = [];
    const waiting: boolean[] = [];
    const turn = broker.forTurn('s1', { policy: 'ask', timeoutMs: 60000, notify: (e) => events.push(e) });
    turn.onWaitingChange((w) => waiting.push(w));
    const { calls, responder } = recorder();
    turn.permissionAsked(asked, responder);

    assert.equal(turn.waiting, true);
    assert.equal(broker.sessionsWaiting(), 1);
    assert.equal(broker.countFor('s1'), 1);
    const listed = broker.list('s1');
    assert.equal(listed.permissions.length, 1);
    assert.equal(listed.permissions[0]?.sessionId, 's1');
    assert.deepEqual(listed.permissions[0]?.patterns, ['echo ask-me']);
    assert.ok(Date.parse(listed.permissions[0]?.expiresAt ?? '') > Date.now() + 50000);
    assert.deepEqual(broker.list('other'), { permissions: [], questions: [] });

    await broker.answerPermission('s1', 'per_1', 'once');
    assert.deepEqual(calls, [{ reply: 'once', message: undefined }]);
    assert.deepEqual(
      events.map((e) => e.type),
      ['permission', 'permission_resolved'],
    );
    assert.deepEqual(events[1]?.data, { id: 'per_1', sessionId: 's1', outcome: 'once' });
    assert.deepEqual(waiting, [true, false]);
    assert.equal(broker.sessionsWaiting(), 0);
    assert.equal(await counter(metrics, 'opencode_manager_permission_requests_total', { permission: 'bash', outcome: 'once' }), 1);
    assert.deepEqual(turn.lostPermissions, []);

    await assert.rejects(broker.answerPermission('s1', 'per_1', 'reject'), (e: unknown) => e instanceof OcpmError && e.code === 'request_already_answered');
    await assert.rejects(broker.answerPermission('s1', 'per_404', 'once'), (e: unknown) => e instanceof OcpmError && e.code === 'request_not_found');
    assert.equal(calls.length, 1);
  });

  it('answers 404 for a request of another session, and keeps it pending', async () => {
    const { broker } = setup();
    const turn = broker.forTurn('s1', { policy: 'ask', timeoutMs: 60000 });
    turn.permissionAsked(asked, recorder().responder);
    await assert.rejects(broker.answerPermission('s2', 'per_1', 'once'), (e: unknown) => e instanceof OcpmError && e.code === 'request_not_found');
    await assert.rejects(broker.answerQuestion('s1', 'per_1', { reject: true }), (e: unknown) => e instanceof OcpmError && e.code === 'request_not_found');
    assert.equal(broker.countFor('s1'), 1);
    await turn.rejectAll();
  });

  it('rejects an unanswered request at the timeout, tells the model why, and records what was lost', async () => {
    const { metrics, broker } = setup();
    const turn = broker.forTurn('s1', { policy: 'ask', timeoutMs: 100 });
    const { replied, responder } = recorder();
    turn.permissionAsked(asked, responder);
    assert.deepEqual(await replied, { reply: 'reject', message: timeoutMessage(100) });
    assert.equal(turn.waiting, false);
    assert.deepEqual(turn.lostPermissions, [{ permission: 'bash', patterns: ['echo ask-me'], outcome: 'timeout' }]);
    assert.equal(await counter(metrics, 'opencode_manager_permission_requests_total', { permission: 'bash', outcome: 'timeout' }), 1);
    await assert.rejects(broker.answerPermission('s1', 'per_1', 'once'), (e: unknown) => e instanceof OcpmError && e.code === 'request_already_answered');
  });

  it('answers an unanswered question at the timeout with the explanation, so the turn goes on', async () => {
    const { metrics, broker } = setup();
    const turn = broker.forTurn('s1', { policy: 'ask', timeoutMs: 100 });
    let resolve!: (answers: readonly (readonly string[])[]) => void;
    const replied = new Promise<readonly (readonly string[])[]>((r) => (resolve = r));
    const item = { question: 'Which?', header: 'Pick', options: [], multiple: false, custom: true };
    turn.questionAsked(
      { id: 'que_1', questions: [item, item] },
      {
        reply: (answers) => {
          resolve(answers);
          return Promise.resolve();
        },
        reject: () => Promise.reject(new Error('a timed-out question must not be rejected')),
      },
    );
    assert.deepEqual(await replied, [[timeoutMessage(100)], [timeoutMessage(100)]]);
    assert.deepEqual(turn.lostPermissions, []);
    assert.equal(await counter(metrics, 'opencode_manager_question_requests_total', { outcome: 'timeout' }), 1);
  });

  it('answers by itself under allow and deny, and never forwards', async () => {
    const { metrics, broker } = setup();
    const events: UserRequestEvent[] = [];
    const allow = recorder();
    broker.forTurn('s1', { policy: 'allow', timeoutMs: 60000, notify: (e) => events.push(e) }).permissionAsked(asked, allow.responder);
    assert.deepEqual(await allow.replied, { reply: 'once', message: undefined });

    const deny = recorder();
    const denied = broker.forTurn('s1', { policy: 'deny', timeoutMs: 60000, notify: (e) => events.push(e) });
    denied.permissionAsked({ ...asked, id: 'per_2', permission: 'webfetch' }, deny.responder);
    const answer = await deny.replied;
    assert.equal(answer.reply, 'reject');
    assert.match(answer.message ?? '', /OCPM_PERMISSION_POLICY=deny/);
    assert.deepEqual(denied.lostPermissions, [{ permission: 'webfetch', patterns: ['echo ask-me'], outcome: 'auto_deny' }]);

    let questionRejected = false;
    broker.forTurn('s1', { policy: 'allow', timeoutMs: 60000 }).questionAsked(
      { id: 'que_1', questions: [] },
      {
        reply: () => Promise.resolve(),
        reject: () => {
          questionRejected = true;
          return Promise.resolve();
        },
      },
    );
    assert.equal(questionRejected, true);
    assert.deepEqual(events, []);
    assert.equal(broker.countFor('s1'), 0);
    assert.equal(await counter(metrics, 'opencode_manager_permission_requests_total', { permission: 'bash', outcome: 'auto_allow' }), 1);
    assert.equal(await counter(metrics, 'opencode_manager_permission_requests_total', { permission: 'webfetch', outcome: 'auto_deny' }), 1);
    assert.equal(await counter(metrics, 'opencode_manager_question_requests_total', { outcome: 'auto_reject' }), 1);
  });

  it('takes a question answer or a rejection, and rejects what waits when the turn is aborted', async () => {
    const { metrics, broker } = setup();
    const events: UserRequestEvent[] = [];
    const turn = broker.forTurn('s1', { policy: 'ask', timeoutMs: 60000, notify: (e) => events.push(e) });
    const answers: unknown[] = [];
    const question = {
      questions: [{ question: 'Which colour?', header: 'Colour', options: [{ label: 'red', description: 'warm' }], multiple: false, custom: true }],
    };
    const record = (value: unknown): Promise<void> => {
      answers.push(value);
      return Promise.resolve();
    };
    const responder = { reply: (a: readonly (readonly string[])[]) => record(a), reject: () => record('rejected') };
    turn.questionAsked({ id: 'que_1', ...question }, responder);
    turn.questionAsked({ id: 'que_2', ...question }, responder);
    turn.permissionAsked({ ...asked, permission: 'custom_thing' }, { reply: (reply) => record(reply) });
    assert.equal(broker.list('s1').questions[0]?.questions[0]?.options[0]?.label, 'red');

    await broker.answerQuestion('s1', 'que_1', { answers: [['red']] });
    await turn.rejectAll();
    assert.deepEqual(answers, [[['red']], 'rejected', 'reject']);
    assert.deepEqual(
      events.map((e) => `${e.type}:${'outcome' in e.data ? e.data.outcome : e.data.id}`),
      ['question:que_1', 'question:que_2', 'permission:per_1', 'question_resolved:answered', 'question_resolved:aborted', 'permission_resolved:aborted'],
    );
    assert.equal(turn.waiting, false);
    assert.equal(await counter(metrics, 'opencode_manager_permission_requests_total', { permission: 'other', outcome: 'aborted' }), 1);
    assert.equal(await counter(metrics, 'opencode_manager_question_requests_total', { outcome: 'answered' }), 1);
  });

  it('forgets a request opencode settled itself, and reports the oldest wait', () => {
    const { broker } = setup();
    const turn = broker.forTurn('s1', { policy: 'ask', timeoutMs: 60000 });
    turn.permissionAsked(asked, recorder().responder);
    assert.ok(broker.oldestWaitSeconds(Date.now() + 5000) >= 5);
    turn.settledByOpencode('per_1');
    assert.equal(turn.waiting, false);
    assert.equal(broker.oldestWaitSeconds(), 0);
  });

  it('names the lost permission and why in the turn error', () => {
    const error = lostPermissionError([{ permission: 'bash', patterns: ['rm -rf x'], outcome: 'reject' }]);
    assert.equal(error.code, 'permission_denied');
    assert.match(error.message, /"bash" \(rm -rf x\) rejected by the user/);
  });
});
