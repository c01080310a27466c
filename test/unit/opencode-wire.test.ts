// The opencode wire parser (src/opencode-wire/) on payloads of both modes, built as the SDK types them
// (`@opencode-ai/sdk/v2`, the version of the binary): the lines of `opencode run --format json` and
// the answers and bus events of `opencode serve` go through the same readers, so the same tokens,
// errors and text come out of both; malformed values are read as nothing, never trusted.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type {
  AssistantMessage,
  EventMessagePartUpdated,
  EventSessionCreated,
  EventSessionError,
  EventSessionIdle,
  EventSessionStatus,
  Part,
  StepFinishPart,
  TextPart,
  ToolPart,
} from '@opencode-ai/sdk/v2';
import { RunEventCollector } from '../../src/manager/per-message/run-events.js';
import { parentLinkOf, parseBusEvent, sessionIdOf, statusOf, unwrapBusEvent, type BusEvent } from '../../src/opencode-wire/bus-events.js';
import { describeError, errorBodyText, errorOf, errorText, isAborted } from '../../src/opencode-wire/errors.js';
import { messageAnswerOf, readAnswer } from '../../src/opencode-wire/message.js';
import { listedRequest } from '../../src/opencode-wire/requests.js';
import { parseEventLine, readRunEvent } from '../../src/opencode-wire/run-events.js';
import { answerText, textOf } from '../../src/opencode-wire/text.js';
import { addUsage, emptyUsage, tokensOf, usageOf } from '../../src/opencode-wire/tokens.js';
import { rejectedTool } from '../../src/opencode-wire/tool-parts.js';

const SES = 'ses_wire';
const MSG = 'msg_wire';

function stepFinish(tokens: StepFinishPart['tokens'], cost: number, reason = 'stop'): StepFinishPart {
  return { id: 'prt_f', sessionID: SES, messageID: MSG, type: 'step-finish', reason, cost, tokens };
}

function textPart(text: string, extra: Partial<TextPart> = {}): TextPart {
  return { id: 'prt_t', sessionID: SES, messageID: MSG, type: 'text', text, ...extra };
}

function assistant(tokens: AssistantMessage['tokens'], cost: number, error?: AssistantMessage['error']): AssistantMessage {
  return {
    id: MSG,
    sessionID: SES,
    role: 'assistant',
    time: { created: 1 },
    parentID: 'msg_user',
    modelID: 'stub-model',
    providerID: 'stub',
    mode: 'build',
    agent: 'build',
    path: { cwd: '/repo', root: '/repo' },
    cost,
    tokens,
    ...(error === undefined ? {} : { error }),
  };
}

/** A line of `opencode run --format json` carrying a part (its `type` is run's name for the part). */
function runLine(type: string, part: Part): string {
  return JSON.stringify({ type, timestamp: 1, sessionID: SES, part });
}

/** A served answer as it crosses the wire (JSON), read back the way the client reads it. */
function served(info: AssistantMessage, parts: Part[]): ReturnType<typeof readAnswer> {
  const answer = messageAnswerOf(JSON.parse(JSON.stringify({ info, parts })));
  assert.ok(answer !== undefined);
  return readAnswer(answer);
}

function collect(lines: string[]): RunEventCollector {
  const collector = new RunEventCollector();
  for (const line of lines) collector.add(line);
  return collector;
}

const STEP_1 = { total: 1600, input: 1500, output: 60, reasoning: 40, cache: { read: 7, write: 100 } };
const STEP_2 = { total: 1700, input: 1650, output: 30, reasoning: 20, cache: { read: 1500, write: 3 } };
const SUM = { input: 3150, output: 90, reasoning: 60, cacheRead: 1507, cacheWrite: 103, total: 3300 };

describe('opencode wire: tokens', () => {
  it("sums a run's step_finish parts into what a served assistant message with those totals reads as", () => {
    const run = collect([runLine('step_finish', stepFinish(STEP_1, 0.0125, 'tool-calls')), runLine('step_finish', stepFinish(STEP_2, 0.0025))]).summary;
    assert.deepEqual(run.tokens, SUM);
    assert.ok(Math.abs(run.cost - 0.015) < 1e-12, `cost ${run.cost}`);
    const server = served(assistant({ total: 3300, input: 3150, output: 90, reasoning: 60, cache: { read: 1507, write: 103 } }, 0.015), []);
    assert.deepEqual(server.usage.tokens, run.tokens);
    assert.equal(server.usage.cost, 0.015);
    // The same sum, step by step, through the shared reader.
    const summed = [stepFinish(STEP_1, 0.0125), stepFinish(STEP_2, 0.0025)].map(usageOf).reduce(addUsage, emptyUsage());
    assert.deepEqual(summed.tokens, SUM);
  });

  it('reads a missing total as input + output + reasoning, for a step and for a message alike', () => {
    const tokens = { input: 10, output: 5, reasoning: 2, cache: { read: 100, write: 50 } };
    const expected = { input: 10, output: 5, reasoning: 2, cacheRead: 100, cacheWrite: 50, total: 17 };
    assert.deepEqual(tokensOf(stepFinish(tokens, 0)), expected);
    assert.deepEqual(served(assistant(tokens, 0), []).usage.tokens, expected);
    assert.deepEqual(collect([runLine('step_finish', stepFinish(tokens, 0))]).summary.tokens, expected);
  });

  it('reads malformed counts as 0 and anything without tokens as none, keeping its cost', () => {
    const zero = { input: 0, output: 0, reasoning: 0, cacheRead: 0, cacheWrite: 0, total: 0 };
    assert.deepEqual(tokensOf({ tokens: { input: '10', output: Number.NaN, reasoning: Infinity, cache: [] } }), zero);
    assert.deepEqual(tokensOf({ tokens: { input: 4, output: null, cache: { read: '1', write: 2 } } }), { ...zero, input: 4, cacheWrite: 2, total: 4 });
    for (const value of [undefined, null, 'x', 7, [], {}, { tokens: [1, 2] }]) assert.deepEqual(tokensOf(value), zero, JSON.stringify(value));
    assert.deepEqual(usageOf({ cost: 0.5 }), { tokens: zero, cost: 0.5 });
    assert.deepEqual(usageOf({ tokens: { input: 1 }, cost: 'free' }), { tokens: { ...zero, input: 1, total: 1 }, cost: 0 });
  });
});

describe('opencode wire: errors', () => {
  it('reads a run\'s error line and a server\'s info.error with one reader, as "name: message"', () => {
    const unknown = { name: 'UnknownError', data: { message: 'Unexpected server error.', ref: 'err_1' } } as const;
    const run = collect([JSON.stringify({ type: 'error', timestamp: 1, sessionID: SES, error: unknown })]).summary;
    assert.equal(run.errorMessage, 'UnknownError: Unexpected server error.');
    const server = served(assistant(STEP_1, 0.001, unknown), []);
    assert.deepEqual(server.error, { name: 'UnknownError', message: 'Unexpected server error.' });
    assert.equal(describeError(server.error), run.errorMessage);
    // A failed message still reports what its steps used.
    assert.equal(server.usage.tokens.total, 1600);
  });

  it("reads a session.error event's error, an API error and an abort", () => {
    const event: EventSessionError = {
      id: 'evt',
      type: 'session.error',
      properties: { sessionID: SES, error: { name: 'ProviderAuthError', data: { providerID: 'p', message: 'bad key' } } },
    };
    assert.equal(errorText(event.properties.error), 'ProviderAuthError: bad key');
    const api = errorOf({ name: 'APIError', data: { message: 'fake provider failure', statusCode: 500, isRetryable: true } });
    assert.deepEqual(api, { name: 'APIError', message: 'fake provider failure' });
    const aborted = errorOf(assistant(STEP_1, 0, { name: 'MessageAbortedError', data: { message: 'Aborted' } }).error);
    assert.ok(aborted !== undefined && isAborted(aborted));
    assert.ok(!isAborted(api));
  });

  it('reads other shapes: no message, a top-level message, no name, no error at all', () => {
    assert.equal(errorText({ name: 'MessageOutputLengthError', data: {} }), 'MessageOutputLengthError');
    assert.equal(errorText({ name: 'X', message: 'top-level' }), 'X: top-level');
    assert.equal(errorText({ data: { message: 'nameless' } }), 'Error: nameless');
    assert.equal(errorText({ name: 42, data: { message: 7 } }), 'Error');
    for (const value of [undefined, null, 'boom', 3, ['x']]) {
      assert.equal(errorOf(value), undefined);
      assert.equal(errorText(value), 'opencode reported an error');
    }
    assert.equal(served(assistant(STEP_1, 0), []).error, undefined);
  });

  it("describes a refused request's body, or nothing when it is not a named error", () => {
    assert.equal(
      errorBodyText('{"name":"ProviderModelNotFoundError","data":{"message":"Model not found: fake/nope"}}'),
      'ProviderModelNotFoundError: Model not found: fake/nope',
    );
    assert.equal(errorBodyText('{"name":"BadRequest","data":{}}'), 'BadRequest');
    for (const body of ['', '<html>', '{"data":{"message":"no name"}}', '[1]', 'null', '{"name":3}']) assert.equal(errorBodyText(body), undefined, body);
  });
});

describe('opencode wire: text', () => {
  const parts: Part[] = [
    { id: 'p0', sessionID: SES, messageID: MSG, type: 'step-start' },
    textPart('first part'),
    textPart(''),
    textPart('added by opencode', { synthetic: true }),
    { id: 'p1', sessionID: SES, messageID: MSG, type: 'reasoning', text: 'thinking', time: { start: 1 } },
    textPart('second part'),
  ];

  it('joins the answer text parts of a served answer with a blank line, leaving out empty, synthetic and other parts', () => {
    assert.equal(served(assistant(STEP_1, 0), parts).text, 'first part\n\nsecond part');
    assert.equal(textOf(parts), 'first part\n\nsecond part');
    assert.equal(textOf([]), '');
  });

  it("reads a run's text lines into the same text", () => {
    const lines = parts.map((part) => runLine(part.type === 'text' ? 'text' : part.type === 'reasoning' ? 'reasoning' : 'step_start', part));
    assert.equal(collect(lines).summary.text, 'first part\n\nsecond part');
  });

  it('takes only string text of text parts', () => {
    assert.equal(answerText(textPart('yes')), 'yes');
    for (const value of [{ type: 'text', text: 3 }, { type: 'reasoning', text: 'no' }, { text: 'untyped' }, 'text', null]) {
      assert.equal(answerText(value), undefined, JSON.stringify(value));
    }
    assert.equal(textOf([null, 'x', { type: 'text', text: 'kept' }, 5]), 'kept');
  });
});

describe('opencode wire: answers and run lines', () => {
  it('messageAnswerOf needs an info object and keeps the object parts', () => {
    assert.equal(messageAnswerOf({ parts: [] }), undefined);
    assert.equal(messageAnswerOf({ info: 'x', parts: [] }), undefined);
    assert.equal(messageAnswerOf(null), undefined);
    assert.deepEqual(messageAnswerOf({ info: { id: 'm' }, parts: [{ type: 'text' }, 'junk', null, [1]] }), { info: { id: 'm' }, parts: [{ type: 'text' }] });
    assert.deepEqual(messageAnswerOf({ info: { id: 'm' }, parts: 'x' }), { info: { id: 'm' }, parts: [] });
  });

  it('readRunEvent says what each line kind means for the turn', () => {
    const read = (line: string): ReturnType<typeof readRunEvent> => {
      const event = parseEventLine(line);
      assert.ok(event !== undefined, line);
      return readRunEvent(event);
    };
    assert.deepEqual(read(runLine('text', textPart('hi'))), { kind: 'text', part: textPart('hi') });
    assert.deepEqual(read(runLine('step_finish', stepFinish(STEP_1, 0.5))), { kind: 'usage', usage: usageOf(stepFinish(STEP_1, 0.5)) });
    assert.deepEqual(read(JSON.stringify({ type: 'error', error: { name: 'E', data: { message: 'm' } } })), { kind: 'error', message: 'E: m' });
    assert.equal(read(JSON.stringify({ type: 'step_start', part: {} })), undefined);
    assert.equal(read(JSON.stringify({ type: 'something_new' })), undefined);
    assert.equal(parseEventLine(JSON.stringify({ type: 'text', sessionID: 42 })), undefined, 'a session id that is not a string');
  });

  it('rejectedTool reads a tool part that `run` refused its permission, and nothing else', () => {
    const state = {
      status: 'error',
      input: { filePath: '/repo/x' },
      error: 'The user rejected permission to use this specific tool call.',
      time: { start: 1, end: 2 },
    } as const;
    const refused: ToolPart = { id: 'p', sessionID: SES, messageID: MSG, type: 'tool', callID: 'c', tool: 'edit', state };
    assert.deepEqual(rejectedTool(refused), { tool: 'edit', patterns: ['/repo/x'] });
    assert.deepEqual(read(runLine('tool_use', refused)), { kind: 'rejected', tool: { tool: 'edit', patterns: ['/repo/x'] } });
    assert.deepEqual(rejectedTool({ state: { ...state, input: {} } }), { tool: 'other', patterns: [] });
    assert.equal(rejectedTool({ ...refused, state: { ...state, error: 'File not found' } }), undefined);
    assert.equal(rejectedTool({ ...refused, state: { status: 'completed', error: state.error } }), undefined);
    assert.equal(read(runLine('tool_use', { ...refused, state: { ...state, error: 'boom' } })), undefined);

    function read(line: string): ReturnType<typeof readRunEvent> {
      const event = parseEventLine(line);
      assert.ok(event !== undefined);
      return readRunEvent(event);
    }
  });
});

describe('opencode wire: bus events', () => {
  /** An SDK event as /global/event sends it, read back the way the hub reads it. */
  function overTheWire(event: { type: string; properties: object }): BusEvent {
    const read = parseBusEvent(JSON.stringify({ directory: '/repo', payload: event }));
    assert.ok(read !== undefined);
    return read;
  }

  it('parses wrapped and bare events, and nothing else', () => {
    const idle: EventSessionIdle = { id: 'e', type: 'session.idle', properties: { sessionID: SES } };
    assert.deepEqual(overTheWire(idle), { type: 'session.idle', properties: { sessionID: SES } });
    assert.deepEqual(unwrapBusEvent({ type: 'x' }), { type: 'x', properties: {} });
    for (const data of ['', 'not json', '[]', '{"payload":{"type":3}}', 'null']) assert.equal(parseBusEvent(data), undefined, data);
  });

  it('finds the session of an event wherever its type keeps it', () => {
    const part: EventMessagePartUpdated = { id: 'e', type: 'message.part.updated', properties: { sessionID: SES, part: textPart('x'), time: 1 } };
    assert.equal(sessionIdOf(overTheWire(part)), SES);
    assert.equal(sessionIdOf({ type: 'message.part.updated', properties: { part: { sessionID: 'ses_p' } } }), 'ses_p');
    assert.equal(sessionIdOf({ type: 'message.updated', properties: { info: { sessionID: 'ses_m' } } }), 'ses_m');
    assert.equal(sessionIdOf({ type: 'session.updated', properties: { info: { id: 'ses_s' } } }), 'ses_s');
    assert.equal(sessionIdOf({ type: 'other.thing', properties: { info: { id: 'ses_s' } } }), undefined);
  });

  it('reads the status an event announces', () => {
    const busy: EventSessionStatus = { id: 'e', type: 'session.status', properties: { sessionID: SES, status: { type: 'busy' } } };
    assert.equal(statusOf(overTheWire(busy)), 'busy');
    assert.equal(statusOf({ type: 'session.idle', properties: {} }), 'idle');
    assert.equal(statusOf({ type: 'session.status', properties: { status: 'busy' } }), undefined);
    assert.equal(statusOf({ type: 'message.updated', properties: { status: { type: 'busy' } } }), undefined);
  });

  it("reads a child session's parent, and no link for a session of its own", () => {
    const info = { id: 'ses_child', slug: 's', projectID: 'p', directory: '/repo', parentID: SES, title: 't', version: '1', time: { created: 1, updated: 1 } };
    const created: EventSessionCreated = { id: 'e', type: 'session.created', properties: { sessionID: 'ses_child', info } };
    assert.deepEqual(parentLinkOf(overTheWire(created)), { id: 'ses_child', parentID: SES });
    assert.equal(parentLinkOf({ type: 'session.created', properties: { info: { id: 'a', parentID: 'a' } } }), undefined);
    assert.equal(parentLinkOf({ type: 'session.created', properties: { info: { id: 'a' } } }), undefined);
    assert.equal(parentLinkOf({ type: 'session.deleted', properties: { info: { id: 'a', parentID: 'b' } } }), undefined);
  });

  it('listedRequest turns a listed request into its asked event, with its session', () => {
    const item = { id: 'per_1', sessionID: SES, permission: 'bash', patterns: [] };
    assert.deepEqual(listedRequest('permission.asked', item), { sessionId: SES, event: { type: 'permission.asked', properties: item } });
    assert.equal(listedRequest('question.asked', { id: 'q' }), undefined);
    assert.equal(listedRequest('question.asked', 'q'), undefined);
  });
});
