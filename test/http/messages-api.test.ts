// Running messages over real HTTP with the fake opencode: results, continuity, every failure code,
// abort, busy, SSE streaming, client disconnect, and the child's environment.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call, streamEvents, TEST_API_TOKEN } from '../helpers/http.js';
import { isPidLive } from '../helpers/processes.js';
import { startTestService, type TestService } from '../helpers/test-service.js';
import { waitFor } from '../helpers/wait-for.js';

describe('messages API', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService({ OPENCODE_DISABLE_SHARE: '0' });
  });
  after(async () => {
    await svc.close();
  });

  const url = (p: string): string => `${svc.url}${p}`;
  const register = async (id: string): Promise<void> => {
    const response = await call(url(`/api/sessions/${id}`), 'PUT', { workspace: id });
    assert.ok(response.status === 201 || response.status === 200);
  };
  const send = (id: string, body: Record<string, unknown>) => call(url(`/api/sessions/${id}/messages`), 'POST', body);
  /** Resolves once the session's turn is running (its busy flag is set). */
  const waitBusy = async (id: string): Promise<void> => {
    for (;;) {
      const shown = await call(url(`/api/sessions/${id}`), 'GET');
      if (shown.body.busy === true) return;
      await new Promise((resolve) => setImmediate(resolve));
    }
  };

  it('runs a message and continues the same opencode session on the next one', async () => {
    await register('s1');
    const first = await send('s1', { text: 'hello world' });
    assert.equal(first.status, 200);
    assert.equal(first.body.sessionId, 's1');
    assert.equal(first.body.text, 'fake reply #1 [model=default] [agent=build]: hello world');
    assert.match(first.body.opencodeSessionId, /^ses_/);
    assert.equal(first.body.mode, 'per-message');
    assert.equal(typeof first.body.durationMs, 'number');
    assert.equal(first.body.tokens.input, 2);
    assert.equal(first.body.tokens.total, first.body.tokens.input + first.body.tokens.output);
    assert.equal(first.body.cost, 0.001);

    const second = await send('s1', { text: 'again', model: 'stub/stub-model', agent: 'plan' });
    assert.equal(second.status, 200);
    assert.equal(second.body.text, 'fake reply #2 [model=stub/stub-model] [agent=plan]: again');
    assert.equal(second.body.opencodeSessionId, first.body.opencodeSessionId);
    const shown = await call(url('/api/sessions/s1'), 'GET');
    assert.equal(shown.body.messageCount, 2);
    assert.equal(shown.body.opencodeSessionId, first.body.opencodeSessionId);
  });

  it('spawns opencode in the workspace with PWD, a title, stdin, and an allow-listed environment', async () => {
    await register('env');
    const response = await send('env', { text: 'check env' });
    assert.equal(response.status, 200);
    const runs = (await readFile(path.join(svc.recordDir, 'runs.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, any>);
    const run = runs.find((r) => r.message === 'check env');
    assert.ok(run !== undefined);
    const workspace = path.join(svc.workspaceRoot, 'env');
    assert.equal(run.cwd, workspace);
    assert.equal(run.pwd, workspace);
    assert.deepEqual(run.argv.slice(0, 6), ['run', '--format', 'json', '--dir', workspace, '--title']);
    assert.equal(run.stdin, 'check env');
    assert.ok(!run.envNames.includes('OCPM_API_TOKEN'), 'the service token reached opencode');
    assert.ok(!run.envNames.some((name: string) => name.startsWith('OCPM_') && name !== 'OCPM_PROCESS_MARK'));
    assert.equal(run.opencodeEnv.OPENCODE_DISABLE_AUTOUPDATE, '1');
    assert.equal(run.opencodeEnv.OPENCODE_DISABLE_MODELS_FETCH, '1');
    assert.equal(run.opencodeEnv.OPENCODE_DISABLE_SHARE, '0', 'an operator setting must win over the default');
    assert.match(run.tmpdir, /ocpm-child-/);
  });

  it('maps every failure to its error code, never an empty success', async () => {
    await register('fail');
    const cases: Array<[string, number, string, RegExp?]> = [
      ['#fake exit=3\nhi', 502, 'opencode_failed', /code 3.*forced exit 3/s],
      ['#fake error-event\nhi', 502, 'opencode_error', /fake provider failure/],
      ['#fake error-event-exit0\nhi', 502, 'opencode_error'],
      ['#fake silent\nhi', 502, 'empty_response'],
      ['#fake no-text\nhi', 502, 'empty_response'],
      ['#fake crash-after=50\nhi', 502, 'opencode_failed', /SIGKILL/],
    ];
    for (const [text, status, code, message] of cases) {
      const response = await send('fail', { text });
      assert.equal(response.status, status, `${text}: ${JSON.stringify(response.body)}`);
      assert.equal(response.body.error.code, code, text);
      if (message !== undefined) assert.match(response.body.error.message, message);
    }
    const garbage = await send('fail', { text: '#fake garbage flood=50\nstill fine' });
    assert.equal(garbage.status, 200);
    assert.match(garbage.body.text, /still fine$/);
  });

  it('queues a second message while a turn runs, and runs it after the first is aborted (202, 409 aborted)', async () => {
    await register('busy');
    // Read the stream by hand: leaving a for-await loop would close it (and abort the turn).
    const stream = streamEvents(url('/api/sessions/busy/messages'), { text: '#fake hang grandchild\nlong' });
    for (let next = await stream.next(); next.done !== true && next.value.data.type !== 'tool_use'; next = await stream.next());
    const running = (async () => {
      let last;
      for (let next = await stream.next(); next.done !== true; next = await stream.next()) last = next.value;
      return last;
    })();
    const second = send('busy', { text: 'second' });
    await waitFor('the second message to be queued', async () => (await call(url('/api/opencode/status'), 'GET')).body.queuedRequests === 1);
    const status = await call(url('/api/opencode/status'), 'GET');
    assert.equal(status.body.processManager.pendingRequests, 2);
    const abort = await call(url('/api/sessions/busy/abort'), 'POST');
    assert.equal(abort.status, 202);
    const result = await running;
    assert.equal(result?.event, 'error');
    assert.equal(result?.data.error.code, 'aborted');
    const next = await second;
    assert.equal(next.status, 200);
    assert.equal(next.body.text, 'fake reply #2 [model=default] [agent=build]: second');
    assert.equal((await call(url('/api/sessions/busy'), 'GET')).body.busy, false);
  });

  it('DELETE of a busy session aborts its turn', async () => {
    await register('doomed');
    const running = send('doomed', { text: '#fake hang\nlong' });
    await waitBusy('doomed');
    assert.equal((await call(url('/api/sessions/doomed'), 'DELETE')).status, 204);
    assert.equal((await running).body.error.code, 'aborted');
  });

  it('streams opencode events as parts, then done', async () => {
    await register('stream');
    const events = [];
    for await (const event of streamEvents(url('/api/sessions/stream/messages'), { text: 'streamed' })) events.push(event);
    const names = events.map((event) => event.event);
    assert.equal(names.at(-1), 'done');
    assert.ok(names.indexOf('part') < names.indexOf('done'));
    assert.deepEqual(
      events.filter((e) => e.event === 'part').map((e) => e.data.type),
      ['step_start', 'text', 'step_finish'],
    );
    assert.equal(events.at(-1)?.data.text, 'fake reply #1 [model=default] [agent=build]: streamed');
  });

  it('streams an error event when the turn fails', async () => {
    await register('stream-fail');
    const events = [];
    for await (const event of streamEvents(url('/api/sessions/stream-fail/messages'), { text: '#fake error-event\nx' })) events.push(event);
    assert.equal(events.at(-1)?.event, 'error');
    assert.equal(events.at(-1)?.data.error.code, 'opencode_error');
  });

  it('a client that disconnects from the stream aborts the turn and its whole process tree', async () => {
    await register('gone');
    const controller = new AbortController();
    let grandchild: number | undefined;
    const stream = streamEvents(url('/api/sessions/gone/messages'), { text: '#fake hang grandchild\nx' }, controller.signal);
    for await (const event of stream) {
      if (event.data.type === 'tool_use') {
        grandchild = event.data.part.state.metadata.grandchildPid as number;
        break;
      }
    }
    assert.ok(grandchild !== undefined);
    assert.equal((await call(url('/api/opencode/status'), 'GET')).body.activeStreams, 1);
    const runs = (await readFile(path.join(svc.recordDir, 'grandchildren.jsonl'), 'utf8')).trim().split('\n');
    const child = (JSON.parse(runs.at(-1) ?? '{}') as { parentPid?: number }).parentPid;
    controller.abort();
    // The turn ends when the service has killed the tree; wait for the session to go idle.
    for (;;) {
      const shown = await call(url('/api/sessions/gone'), 'GET');
      if (shown.body.busy === false) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(isPidLive(grandchild), false, 'the grandchild survived the disconnect');
    if (child !== undefined) assert.equal(isPidLive(child), false);
    assert.equal((await call(url('/api/opencode/status'), 'GET')).body.activeStreams, 0);
    assert.ok(svc.logs.some((line) => line.message === 'OpenCode command completed' && line.termination === 'abort'));
  });

  it('logs the start and end of each command with the documented fields, without the message text', () => {
    const started = svc.logs.filter((line) => line.message === 'Executing OpenCode command (standalone)');
    const completed = svc.logs.filter((line) => line.message === 'OpenCode command completed');
    assert.ok(started.length > 0 && completed.length > 0);
    // The boot's catalog listing (opencode models, agent list, debug config) runs for no session.
    assert.ok(started.filter((line) => line.sessionId === undefined).length <= 3);
    for (const line of started.filter((l) => l.sessionId !== undefined)) {
      assert.equal(typeof line.processId, 'string');
      assert.equal(typeof line.sessionId, 'string');
      assert.equal(typeof line.activeProcesses, 'number');
    }
    for (const line of completed) {
      assert.equal(typeof line.processId, 'string');
      assert.equal(typeof line.duration, 'number');
      assert.ok('exitCode' in line);
    }
    const all = JSON.stringify(svc.logs);
    assert.ok(!all.includes('hello world'), 'message text reached the log');
    assert.ok(!all.includes(TEST_API_TOKEN), 'the API token reached the log');
  });
});
