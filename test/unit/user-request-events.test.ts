// The permission and question readers against events built as the SDK types them
// (`@opencode-ai/sdk/v2`, the version of the binary), and against malformed ones.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EventPermissionAsked, EventPermissionReplied, EventQuestionAsked, EventQuestionRejected, EventQuestionReplied } from '@opencode-ai/sdk/v2';
import { unwrapBusEvent, type BusEvent } from '../../src/opencode-wire/bus-events.js';
import { askedPermission, askedQuestion, settledRequestId } from '../../src/opencode-wire/requests.js';

/** An SDK event as /global/event sends it, read back the way the hub reads it. */
function overTheWire(event: { type: string; properties: object }): BusEvent {
  const read = unwrapBusEvent(JSON.parse(JSON.stringify({ directory: '/repo', payload: event })));
  assert.ok(read !== undefined);
  return read;
}

const permissionAsked: EventPermissionAsked = {
  id: 'evt_1',
  type: 'permission.asked',
  properties: {
    id: 'per_1',
    sessionID: 'ses_child',
    permission: 'bash',
    patterns: ['rm -rf build'],
    metadata: { command: 'rm -rf build' },
    always: ['rm *'],
    tool: { messageID: 'msg_1', callID: 'call_1' },
  },
};

const questionAsked: EventQuestionAsked = {
  id: 'evt_2',
  type: 'question.asked',
  properties: {
    id: 'que_1',
    sessionID: 'ses_1',
    questions: [
      { question: 'Which colour?', header: 'Colour', options: [{ label: 'Red', description: 'warm' }], multiple: true },
      { question: 'Name?', header: 'Name', options: [], custom: false },
    ],
  },
};

describe('user request events', () => {
  it('askedPermission reads a permission.asked event of the SDK', () => {
    assert.deepEqual(askedPermission(overTheWire(permissionAsked)), {
      id: 'per_1',
      permission: 'bash',
      patterns: ['rm -rf build'],
      metadata: { command: 'rm -rf build' },
    });
    assert.equal(askedPermission(overTheWire(questionAsked)), undefined);
  });

  it('askedQuestion reads a question.asked event of the SDK, with opencode defaults for multiple and custom', () => {
    assert.deepEqual(askedQuestion(overTheWire(questionAsked)), {
      id: 'que_1',
      questions: [
        { question: 'Which colour?', header: 'Colour', options: [{ label: 'Red', description: 'warm' }], multiple: true, custom: true },
        { question: 'Name?', header: 'Name', options: [], multiple: false, custom: false },
      ],
    });
    assert.equal(askedQuestion(overTheWire(permissionAsked)), undefined);
  });

  it('malformed requests are left out, malformed parts dropped', () => {
    assert.equal(askedPermission({ type: 'permission.asked', properties: { id: 7, permission: 'bash' } }), undefined);
    assert.deepEqual(askedPermission({ type: 'permission.asked', properties: { id: 'p', permission: 'read', patterns: ['a', 3], metadata: [] } }), {
      id: 'p',
      permission: 'read',
      patterns: ['a'],
      metadata: {},
    });
    assert.equal(askedQuestion({ type: 'question.asked', properties: { id: 'q', questions: 'x' } }), undefined);
    assert.deepEqual(
      askedQuestion({ type: 'question.asked', properties: { id: 'q', questions: [null, { question: 'Ok?', options: [{ label: 1 }, { label: 'Yes' }] }] } }),
      { id: 'q', questions: [{ question: 'Ok?', header: '', options: [{ label: 'Yes', description: '' }], multiple: false, custom: true }] },
    );
  });

  it('settledRequestId reads the SDK’s replied and rejected events', () => {
    const replied: EventPermissionReplied = { id: 'e', type: 'permission.replied', properties: { sessionID: 's', requestID: 'per_1', reply: 'once' } };
    const answered: EventQuestionReplied = { id: 'e', type: 'question.replied', properties: { sessionID: 's', requestID: 'que_1', answers: [['Red']] } };
    const rejected: EventQuestionRejected = { id: 'e', type: 'question.rejected', properties: { sessionID: 's', requestID: 'que_2' } };
    assert.deepEqual([replied, answered, rejected].map(overTheWire).map(settledRequestId), ['per_1', 'que_1', 'que_2']);
    assert.equal(settledRequestId(overTheWire(permissionAsked)), undefined);
    assert.equal(settledRequestId({ type: 'permission.replied', properties: { permissionID: 'per_old' } }), 'per_old');
  });
});
