// parseEventLine and RunEventCollector over event lines captured from opencode 1.18.33
// (`opencode run --format json`).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RunEventCollector } from '../../src/manager/per-message/run-events.js';
import { parseEventLine } from '../../src/opencode-wire/run-events.js';

const STEP_START =
  '{"type":"step_start","timestamp":1795892363092,"sessionID":"ses_ddc794dc4ffejLme5OrS1YzeQx","part":{"id":"prt_22386bea6001lpI9RMp9cyKxfh","messageID":"msg_22386b8dd001wj2oSxpTmzadDN","sessionID":"ses_ddc794dc4ffejLme5OrS1YzeQx","type":"step-start"}}';
const TEXT =
  '{"type":"text","timestamp":1795892363093,"sessionID":"ses_ddc794dc4ffejLme5OrS1YzeQx","part":{"id":"prt_22386bef9001DbfRH5nFCRUUTD","messageID":"msg_22386b8dd001wj2oSxpTmzadDN","sessionID":"ses_ddc794dc4ffejLme5OrS1YzeQx","type":"text","text":"stub answer user_messages=1 marker=abc","time":{"start":1795892363001,"end":1795892363016}}}';
const STEP_FINISH_STOP =
  '{"type":"step_finish","timestamp":1795892363093,"sessionID":"ses_ddc794dc4ffejLme5OrS1YzeQx","part":{"id":"prt_22386bf1a001uLTDDuP1RnHmjw","reason":"stop","messageID":"msg_22386b8dd001wj2oSxpTmzadDN","sessionID":"ses_ddc794dc4ffejLme5OrS1YzeQx","type":"step-finish","tokens":{"total":1537,"input":1533,"output":4,"reasoning":0,"cache":{"write":0,"read":0}},"cost":0}}';
const TOOL_USE =
  '{"type":"tool_use","timestamp":1795892404886,"sessionID":"ses_ddc78ad84ffePcmyctLph1KXfm","part":{"type":"tool","tool":"bash","callID":"call_stub_1","state":{"status":"completed","input":{"command":"echo tool-ran"},"output":"tool-ran\\n","metadata":{"output":"tool-ran\\n","exit":0,"truncated":false},"title":"echo tool-ran","time":{"start":1795892404370,"end":1795892404808}},"id":"prt_223876076001wK1ZvgPtOIb7jp","sessionID":"ses_ddc78ad84ffePcmyctLph1KXfm","messageID":"msg_223875a320016s3XN2JF5nFw8i"}}';
const ERROR =
  '{"type":"error","timestamp":1795892380256,"sessionID":"ses_ddc7905cfffemv0e3erFk8VwBg","error":{"name":"UnknownError","data":{"message":"Unexpected server error. Check server logs for details.","ref":"err_cf4e4f16"}}}';

const TOOL_SESSION = 'ses_ddc78ad84ffePcmyctLph1KXfm';

/** A step_finish of the tool turn, same shape as the captured one, other numbers. */
function stepFinish(
  reason: string,
  tokens: { total: number; input: number; output: number; reasoning: number; write: number; read: number },
  cost: number,
): string {
  return JSON.stringify({
    type: 'step_finish',
    timestamp: 1795892404900,
    sessionID: TOOL_SESSION,
    part: {
      id: 'prt_x',
      reason,
      messageID: 'msg_223875a320016s3XN2JF5nFw8i',
      sessionID: TOOL_SESSION,
      type: 'step-finish',
      tokens: {
        total: tokens.total,
        input: tokens.input,
        output: tokens.output,
        reasoning: tokens.reasoning,
        cache: { write: tokens.write, read: tokens.read },
      },
      cost,
    },
  });
}

function withSession(line: string, sessionID: string): string {
  const event = JSON.parse(line) as { sessionID: string; part?: { sessionID?: string } };
  event.sessionID = sessionID;
  if (event.part !== undefined) event.part.sessionID = sessionID;
  return JSON.stringify(event);
}

function textLine(text: string, sessionID = TOOL_SESSION): string {
  const event = JSON.parse(TEXT) as { sessionID: string; part: { sessionID: string; text: string } };
  event.sessionID = sessionID;
  event.part.sessionID = sessionID;
  event.part.text = text;
  return JSON.stringify(event);
}

describe('parseEventLine', () => {
  it('parses each captured line shape into its type and session id', () => {
    const cases: Array<[string, string, string]> = [
      [STEP_START, 'step_start', 'ses_ddc794dc4ffejLme5OrS1YzeQx'],
      [TEXT, 'text', 'ses_ddc794dc4ffejLme5OrS1YzeQx'],
      [STEP_FINISH_STOP, 'step_finish', 'ses_ddc794dc4ffejLme5OrS1YzeQx'],
      [TOOL_USE, 'tool_use', 'ses_ddc78ad84ffePcmyctLph1KXfm'],
      [ERROR, 'error', 'ses_ddc7905cfffemv0e3erFk8VwBg'],
    ];
    for (const [line, type, sessionID] of cases) {
      const event = parseEventLine(line);
      assert.ok(event !== undefined, line);
      assert.equal(event.type, type);
      assert.equal(event.sessionID, sessionID);
    }
  });

  it('keeps the rest of the event', () => {
    const event = parseEventLine(TOOL_USE);
    assert.deepEqual((event?.part as { state: { input: unknown } }).state.input, { command: 'echo tool-ran' });
  });

  it('accepts surrounding whitespace and a trailing CR', () => {
    assert.equal(parseEventLine(`  ${TEXT}\r`)?.type, 'text');
  });

  it('returns undefined for lines that are not JSON event objects', () => {
    for (const line of [
      '',
      '   ',
      'Error: Session not found',
      '> build · stub-model',
      TEXT.slice(0, 80),
      '[1,2,3]',
      '[{"type":"text"}]',
      '{"sessionID":"ses_1","part":{}}',
      '{"type":42}',
      'null',
      '"text"',
      '{not json}',
    ]) {
      assert.equal(parseEventLine(line), undefined, JSON.stringify(line));
    }
  });
});

describe('RunEventCollector', () => {
  function collect(lines: string[]): RunEventCollector {
    const collector = new RunEventCollector();
    for (const line of lines) collector.add(line);
    return collector;
  }

  it('starts empty', () => {
    assert.deepEqual(new RunEventCollector().summary, {
      text: '',
      opencodeSessionId: undefined,
      tokens: { input: 0, output: 0, reasoning: 0, cacheRead: 0, cacheWrite: 0, total: 0 },
      cost: 0,
      errorMessage: undefined,
      events: 0,
      unparsedLines: 0,
      rejectedTools: [],
    });
  });

  it('folds a plain turn: text, session id and the tokens of its step_finish', () => {
    const { summary } = collect([STEP_START, TEXT, STEP_FINISH_STOP]);
    assert.deepEqual(summary, {
      text: 'stub answer user_messages=1 marker=abc',
      opencodeSessionId: 'ses_ddc794dc4ffejLme5OrS1YzeQx',
      tokens: { input: 1533, output: 4, reasoning: 0, cacheRead: 0, cacheWrite: 0, total: 1537 },
      cost: 0,
      errorMessage: undefined,
      events: 3,
      unparsedLines: 0,
      rejectedTools: [],
    });
  });

  it('sums tokens and cost over both step_finish events of a tool turn', () => {
    const lines = [
      withSession(STEP_START, TOOL_SESSION),
      TOOL_USE,
      stepFinish('tool-calls', { total: 1600, input: 1500, output: 60, reasoning: 40, write: 100, read: 7 }, 0.0125),
      withSession(STEP_START, TOOL_SESSION),
      textLine('tool-ran, done'),
      stepFinish('stop', { total: 1700, input: 1650, output: 30, reasoning: 20, write: 3, read: 1500 }, 0.0025),
    ];
    const { summary } = collect(lines);
    assert.equal(summary.opencodeSessionId, TOOL_SESSION);
    assert.equal(summary.text, 'tool-ran, done');
    assert.deepEqual(summary.tokens, { input: 3150, output: 90, reasoning: 60, cacheRead: 1507, cacheWrite: 103, total: 3300 });
    assert.ok(Math.abs(summary.cost - 0.015) < 1e-12, `cost ${summary.cost}`);
    assert.equal(summary.events, 6);
    assert.equal(summary.unparsedLines, 0);
    assert.equal(summary.errorMessage, undefined);
  });

  it('counts input + output + reasoning as the total when step_finish has no total', () => {
    const line = JSON.stringify({ type: 'step_finish', sessionID: TOOL_SESSION, part: { tokens: { input: 10, output: 5, reasoning: 2 }, cost: 1 } });
    const { summary } = collect([line]);
    assert.equal(summary.tokens.total, 17);
    assert.equal(summary.cost, 1);
  });

  it('joins the text parts of a turn with a blank line and skips empty ones', () => {
    const { summary } = collect([textLine('first part'), textLine(''), TOOL_USE, textLine('second part')]);
    assert.equal(summary.text, 'first part\n\nsecond part');
  });

  it('takes the first session id it sees', () => {
    const { summary } = collect([STEP_START, TOOL_USE, ERROR]);
    assert.equal(summary.opencodeSessionId, 'ses_ddc794dc4ffejLme5OrS1YzeQx');
  });

  it('reads the error event as "name: message"', () => {
    const { summary } = collect([ERROR]);
    assert.equal(summary.errorMessage, 'UnknownError: Unexpected server error. Check server logs for details.');
    assert.equal(summary.opencodeSessionId, 'ses_ddc7905cfffemv0e3erFk8VwBg');
  });

  it('keeps the first error when several arrive', () => {
    const second = JSON.stringify({ type: 'error', sessionID: TOOL_SESSION, error: { name: 'ProviderAuthError', data: { message: 'bad key' } } });
    assert.equal(collect([ERROR, second]).summary.errorMessage, 'UnknownError: Unexpected server error. Check server logs for details.');
    assert.equal(collect([second, ERROR]).summary.errorMessage, 'ProviderAuthError: bad key');
  });

  it('describes error events with other shapes', () => {
    const noMessage = JSON.stringify({ type: 'error', error: { name: 'MessageAbortedError', data: {} } });
    const topMessage = JSON.stringify({ type: 'error', error: { name: 'X', message: 'top-level' } });
    const noError = JSON.stringify({ type: 'error' });
    assert.equal(collect([noMessage]).summary.errorMessage, 'MessageAbortedError');
    assert.equal(collect([topMessage]).summary.errorMessage, 'X: top-level');
    assert.equal(collect([noError]).summary.errorMessage, 'opencode reported an error');
  });

  it('counts non-JSON, truncated JSON, arrays and typeless objects as unparsed, but not blank lines', () => {
    const collector = new RunEventCollector();
    const returned = [
      collector.add('opencode: some banner'),
      collector.add(''),
      collector.add(TEXT.slice(0, TEXT.length - 5)),
      collector.add('   '),
      collector.add('[{"type":"text"}]'),
      collector.add('{"sessionID":"ses_1"}'),
      collector.add('\r'),
    ];
    assert.deepEqual(returned, [undefined, undefined, undefined, undefined, undefined, undefined, undefined]);
    assert.equal(collector.summary.unparsedLines, 4);
    assert.equal(collector.summary.events, 0);
    assert.equal(collector.summary.opencodeSessionId, undefined);
    assert.equal(collector.summary.text, '');
  });

  it('returns the event for lines that are events', () => {
    const collector = new RunEventCollector();
    assert.equal(collector.add(TOOL_USE)?.type, 'tool_use');
    assert.equal(collector.summary.events, 1);
  });
});

describe('RunEventCollector: permissions `run` rejected', () => {
  // Captured from opencode 1.18.33 `run` with `"bash": {"echo ask*": "ask"}`: it rejects the ask itself.
  const REJECTED_TOOL =
    '{"type":"tool_use","timestamp":1796223070023,"sessionID":"ses_dc8c321aaffeK4Zt0572OaRUi8","part":{"type":"tool","tool":"bash","callID":"call_stub_1","state":{"status":"error","input":{"command":"echo ask-run","description":"stub tool call"},"error":"The user rejected permission to use this specific tool call.","time":{"start":1796223069716,"end":1796223069969}},"id":"prt_2373cee07001JulbEydiylGLhz","sessionID":"ses_dc8c321aaffeK4Zt0572OaRUi8","messageID":"msg_2373ce760001CzJ0VhQJ3xQohk"}}';

  it('records the tool and its command, and nothing for a tool that ran or failed otherwise', () => {
    const collector = new RunEventCollector();
    collector.add(TOOL_USE);
    collector.add(REJECTED_TOOL.replace('The user rejected permission to use this specific tool call.', 'File not found: /x'));
    assert.deepEqual(collector.summary.rejectedTools, []);
    collector.add(REJECTED_TOOL);
    assert.deepEqual(collector.summary.rejectedTools, [{ tool: 'bash', patterns: ['echo ask-run'] }]);
  });
});
