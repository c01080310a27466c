// Server mode with the fake `opencode serve`: routing and pinning, continuity, streaming, abort,
// warm-up, a pool of three, and that the spawn counter stays at the pool size.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call, streamEvents, type SseEvent } from '../helpers/http.js';
import { readJsonLines } from '../helpers/json-lines.js';
import { sample } from '../helpers/metrics-text.js';
import { isPidLive } from '../helpers/processes.js';
import { startTestService, type TestService } from '../helpers/test-service.js';
import { waitFor } from '../helpers/wait-for.js';

describe('server mode, pool of one', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService({ OCPM_MODE: 'auto' });
  });
  after(async () => {
    await svc.close();
  });
  const url = (p: string): string => `${svc.url}${p}`;
  const send = (id: string, body: Record<string, unknown>) => call(url(`/api/sessions/${id}/messages`), 'POST', body);

  it('auto mode picks the server, and the status says so without secrets or paths', async () => {
    const status = await call(url('/api/opencode/status'), 'GET');
    const pm = status.body.processManager;
    assert.equal(pm.mode, 'server');
    assert.equal(pm.isRunning, true);
    assert.equal(pm.description, 'Messages are served by persistent OpenCode server processes (opencode serve)');
    assert.equal(status.body.configuredMode, 'server');
    assert.equal(pm.instances.length, 1);
    const instance = pm.instances[0];
    for (const key of ['id', 'pid', 'port', 'state', 'startedAt', 'restarts', 'lastError', 'lastHealth', 'rssBytes', 'activeTurns', 'directories']) {
      assert.ok(key in instance, `instances[0].${key} is missing`);
    }
    assert.equal(instance.state, 'ready');
    assert.equal(typeof instance.pid, 'number');
    assert.ok(instance.rssBytes > 0, 'rssBytes was not measured');
    const servers = await readJsonLines(path.join(svc.recordDir, 'servers.jsonl'));
    const text = JSON.stringify(status.body);
    assert.ok(!text.includes(svc.workspaceRoot) && !text.includes('/tmp/'), 'the status leaks a path');
    assert.ok(servers.length >= 1);
  });

  it('serves many messages from one server process, continuing each conversation', async () => {
    for (const id of ['a', 'b']) assert.equal((await call(url(`/api/sessions/${id}`), 'PUT', { workspace: id })).status, 201);
    const answers = [];
    for (const [id, text] of [
      ['a', 'one'],
      ['b', 'uno'],
      ['a', 'two'],
      ['b', 'dos'],
      ['a', 'three'],
    ] as const) {
      const response = await send(id, { text });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.equal(response.body.mode, 'server');
      answers.push(response.body);
    }
    assert.equal(answers[0].text, 'fake reply #1 [model=default] [agent=build]: one');
    assert.equal(answers[2].text, 'fake reply #2 [model=default] [agent=build]: two');
    assert.equal(answers[4].text, 'fake reply #3 [model=default] [agent=build]: three');
    assert.equal(answers[3].text, 'fake reply #2 [model=default] [agent=build]: dos');
    assert.equal(answers[0].opencodeSessionId, answers[4].opencodeSessionId);
    assert.equal(answers[4].tokens.input, 1);
    const metrics = (await call(url('/metrics'), 'GET')).body as string;
    assert.equal(sample(metrics, 'opencode_manager_process_spawns_total', { kind: 'serve', outcome: 'started' }), 1);
    assert.equal(sample(metrics, 'opencode_manager_process_spawns_total', { kind: 'run', outcome: 'started' }), 0);
    assert.ok(sample(metrics, 'opencode_manager_commands_total', { mode: 'server', outcome: 'success' }) >= 5);
    assert.equal(sample(metrics, 'opencode_manager_server_instances', { state: 'ready' }), 1);
    assert.ok(sample(metrics, 'opencode_manager_process_resident_memory_bytes', { kind: 'serve' }) > 0);
    assert.ok(sample(metrics, 'opencode_manager_server_start_duration_seconds_count') >= 1);
  });

  it('warms a session up at registration, with a title, and every request carries the password', async () => {
    assert.equal((await call(url('/api/sessions/warm'), 'PUT', { workspace: 'warm' })).status, 201);
    const warmed = await waitFor('the warm-up to create an opencode session', async () => {
      const shown = await call(url('/api/sessions/warm'), 'GET');
      return shown.body.opencodeSessionId ?? undefined;
    });
    assert.match(warmed, /^ses_/);
    const requests = await readJsonLines(path.join(svc.recordDir, 'serve-requests.jsonl'));
    const create = requests.find((r) => r.method === 'POST' && r.path === '/session' && r.directory === path.join(svc.workspaceRoot, 'warm'));
    assert.ok(create !== undefined, 'no POST /session for the warmed directory');
    assert.ok(
      requests.every((r) => r.authOk === true),
      'a request was sent without the instance password',
    );
    const response = await send('warm', { text: 'first' });
    assert.equal(response.body.opencodeSessionId, warmed);
  });

  it('streams bus events as parts before done', async () => {
    await call(url('/api/sessions/s'), 'PUT', { workspace: 's' });
    const events: SseEvent[] = [];
    for await (const event of streamEvents(url('/api/sessions/s/messages'), { text: 'streamed' })) events.push(event);
    assert.equal(events.at(-1)?.event, 'done');
    assert.equal(events.at(-1)?.data.mode, 'server');
    const types = events.filter((e) => e.event === 'part').map((e) => e.data.type as string);
    assert.ok(types.includes('message.part.updated'), types.join(','));
    assert.ok(types.includes('session.status'), types.join(','));
    assert.ok(events.filter((e) => e.event === 'part').every((e) => e.data.properties.sessionID === events.at(-1)?.data.opencodeSessionId));
  });

  it('aborts a running turn through the API, ending its tool processes', async () => {
    await call(url('/api/sessions/h'), 'PUT', { workspace: 'h' });
    let grandchild: number | undefined;
    const controller = new AbortController();
    const streaming = (async () => {
      const seen = [];
      for await (const event of streamEvents(url('/api/sessions/h/messages'), { text: '#fake hang grandchild\nx' }, controller.signal)) {
        seen.push(event);
        const pid = event.data?.properties?.part?.state?.metadata?.grandchildPid as number | undefined;
        if (pid !== undefined && grandchild === undefined) {
          grandchild = pid;
          assert.equal((await call(url('/api/sessions/h/abort'), 'POST')).status, 202);
        }
      }
      return seen;
    })();
    const seen = await streaming;
    assert.equal(seen.at(-1)?.event, 'error');
    assert.equal(seen.at(-1)?.data.error.code, 'aborted');
    assert.ok(grandchild !== undefined);
    await waitFor('the grandchild to end', () => !isPidLive(grandchild!));
    const metrics = (await call(url('/metrics'), 'GET')).body as string;
    assert.ok(sample(metrics, 'opencode_manager_commands_total', { mode: 'server', outcome: 'aborted' }) >= 1);
  });

  it('maps a failed turn (200 with info.error) to opencode_error and an unknown model to invalid_model', async () => {
    await call(url('/api/sessions/e'), 'PUT', { workspace: 'e' });
    const failed = await send('e', { text: '#fake error-event\nx' });
    assert.equal(failed.status, 502);
    assert.equal(failed.body.error.code, 'opencode_error');
    assert.match(failed.body.error.message, /fake provider failure/);
    await call(url('/api/sessions/m'), 'PUT', { workspace: 'm' });
    const badModel = await send('m', { text: 'x', model: 'fake/nope' });
    assert.equal(badModel.status, 400);
    assert.equal(badModel.body.error.code, 'invalid_model');
  });
});

describe('server mode, pool of three', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService({ OCPM_MODE: 'server', OCPM_POOL_SIZE: '3' });
  });
  after(async () => {
    await svc.close();
  });
  const url = (p: string): string => `${svc.url}${p}`;

  it('spreads new sessions over the instances and pins each to its own', async () => {
    for (const id of ['p1', 'p2', 'p3']) assert.equal((await call(url(`/api/sessions/${id}`), 'PUT', { workspace: id })).status, 201);
    const status = await waitFor('every instance to serve one warmed directory', async () => {
      const body = (await call(url('/api/opencode/status'), 'GET')).body;
      return body.processManager.instances.every((i: { directories: number }) => i.directories === 1) ? body : undefined;
    });
    assert.equal(status.processManager.instances.length, 3);
    assert.ok(status.processManager.instances.every((i: { state: string }) => i.state === 'ready'));
    const ports = new Set(status.processManager.instances.map((i: { port: number }) => i.port));
    assert.equal(ports.size, 3);
    for (const id of ['p1', 'p2', 'p3', 'p1']) assert.equal((await call(url(`/api/sessions/${id}/messages`), 'POST', { text: id })).status, 200);
    const messages = await readJsonLines(path.join(svc.recordDir, 'serve-messages.jsonl'));
    const serverOf = (dir: string): Set<number> =>
      new Set(messages.filter((m) => m.directory === path.join(svc.workspaceRoot, dir)).map((m) => m.pid as number));
    assert.equal(serverOf('p1').size, 1, 'p1 moved between instances');
    assert.equal(new Set([...serverOf('p1'), ...serverOf('p2'), ...serverOf('p3')]).size, 3);
    const metrics = (await call(url('/metrics'), 'GET')).body as string;
    assert.equal(sample(metrics, 'opencode_manager_process_spawns_total', { kind: 'serve', outcome: 'started' }), 3);
    // Each instance's tree is its own series, matching the status; together they are the serve total.
    const perServer = status.processManager.instances.map((i: { id: string }) =>
      sample(metrics, 'opencode_manager_server_instance_resident_memory_bytes', { server: i.id }),
    );
    assert.deepEqual(
      status.processManager.instances.map((i: { id: string }) => i.id),
      ['serve-0', 'serve-1', 'serve-2'],
    );
    assert.ok(
      perServer.every((bytes: number) => bytes > 1_000_000),
      `per-server memory: ${perServer.join(', ')}`,
    );
    const total = sample(metrics, 'opencode_manager_process_resident_memory_bytes', { kind: 'serve' });
    assert.equal(
      perServer.reduce((a: number, b: number) => a + b, 0),
      total,
    );
  });
});
