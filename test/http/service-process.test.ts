// The service binary as operators run it: a child process, stopped with SIGTERM mid-turn, must exit 0
// and leave no opencode process or descendant behind; a bad setting stops boot naming the variable.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FAKE_OPENCODE, makeTempDir } from '../helpers/fixtures.js';
import { call, streamEvents, TEST_API_TOKEN } from '../helpers/http.js';
import { isPidLive, pidsWithEnv } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait-for.js';
import { startBinary, waitForLog } from '../helpers/service-binary.js';
import Database from 'better-sqlite3';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';

describe('the service binary', () => {
  let temp: { dir: string; remove: () => Promise<void> };
  const tag = `FAKE_OPENCODE_TEST_TAG=${randomUUID()}`;
  const [tagName, tagValue] = tag.split('=') as [string, string];
  before(async () => {
    temp = await makeTempDir('binary');
  });
  /** The environment of one service run with the fake opencode: its own dirs, tagged children. */
  const serviceEnv = (name: string, extra: Record<string, string>): Record<string, string> => ({
    PORT: '0',
    HOST: '127.0.0.1',
    OCPM_OPENCODE_BIN: FAKE_OPENCODE,
    OCPM_WORKSPACE_ROOT: `${temp.dir}/${name}/ws`,
    OCPM_DATA_DIR: `${temp.dir}/${name}/data`,
    OCPM_CHILD_ENV_ALLOW: 'FAKE_OPENCODE_*',
    OCPM_API_TOKEN: TEST_API_TOKEN,
    // The fake's records live outside any workspace, which a sandbox forbids (see test-service.ts).
    OCPM_ISOLATION: 'off',
    [tagName]: tagValue,
    ...extra,
  });
  after(async () => {
    assert.deepEqual(pidsWithEnv(tag), []);
    await temp.remove();
  });

  it('stops on SIGTERM mid-turn with exit code 0 and no opencode process left', async () => {
    const { child, lines } = startBinary(
      serviceEnv('sigterm', { OCPM_KILL_GRACE_MS: '500', OCPM_DRAIN_TIMEOUT_MS: '300', OCPM_MODE: 'per-message', XDG_DATA_HOME: `${temp.dir}/xdg` }),
    );
    const exited = once(child, 'exit');
    const listening = await waitForLog(lines, 'HTTP server listening');
    await waitForLog(lines, 'OpenCode process manager initialized');
    const base = `http://127.0.0.1:${String(listening.port)}`;
    assert.equal((await call(`${base}/api/sessions/s`, 'PUT', { workspace: 's' })).status, 201);
    const stream = streamEvents(`${base}/api/sessions/s/messages`, { text: '#fake hang grandchild ignore-sigterm\nx' });
    for await (const event of stream) {
      if (event.data.type === 'tool_use') break;
    }
    assert.ok(pidsWithEnv(tag).length >= 2, 'expected the fake and its grandchild to be running');
    child.kill('SIGTERM');
    const [code] = await exited;
    assert.equal(code, 0);
    assert.deepEqual(pidsWithEnv(tag), [], 'opencode processes outlived the service');
  });

  it('in server mode, stops on SIGTERM mid-turn with exit code 0 and no server or tool process left', async () => {
    const { child, lines } = startBinary(serviceEnv('server', { OCPM_KILL_GRACE_MS: '500', OCPM_DRAIN_TIMEOUT_MS: '300', OCPM_MODE: 'server' }));
    const exited = once(child, 'exit');
    const listening = await waitForLog(lines, 'HTTP server listening');
    const ready = await waitForLog(lines, 'OpenCode process manager initialized');
    assert.equal(ready.mode, 'server');
    const base = `http://127.0.0.1:${String(listening.port)}`;
    assert.equal((await call(`${base}/api/sessions/s`, 'PUT', { workspace: 's' })).status, 201);
    for await (const event of streamEvents(`${base}/api/sessions/s/messages`, { text: '#fake hang grandchild\nx' })) {
      if (event.data?.properties?.part?.state?.metadata?.grandchildPid !== undefined) break;
    }
    assert.ok(pidsWithEnv(tag).length >= 2, 'expected the server and its tool grandchild to be running');
    child.kill('SIGTERM');
    const [code] = await exited;
    assert.equal(code, 0);
    assert.deepEqual(pidsWithEnv(tag), [], 'opencode processes outlived the service');
  });

  it('drains on SIGTERM: readiness and new messages answer 503 at once, the running turn finishes, exit 0', async () => {
    const { child, lines } = startBinary(serviceEnv('drain', { OCPM_MODE: 'per-message', OCPM_DRAIN_TIMEOUT_MS: '20000' }));
    const exited = once(child, 'exit');
    const listening = await waitForLog(lines, 'HTTP server listening');
    await waitForLog(lines, 'OpenCode process manager initialized');
    const base = `http://127.0.0.1:${String(listening.port)}`;
    await call(`${base}/api/sessions/d`, 'PUT', { workspace: 'd' });
    const stream = streamEvents(`${base}/api/sessions/d/messages`, { text: '#fake delay=1500\nfinish me' });
    for (let next = await stream.next(); next.done !== true && next.value.data.type !== 'step_start'; next = await stream.next());
    const stoppedAt = Date.now();
    child.kill('SIGTERM');
    await waitForLog(lines, 'Draining: no new messages; waiting for accepted ones');
    const ready = await call(`${base}/readyz`, 'GET');
    assert.equal(ready.status, 503);
    assert.equal(ready.body.error.code, 'draining');
    const refused = await call(`${base}/api/sessions/d/messages`, 'POST', { text: 'too late' });
    assert.equal(refused.status, 503);
    assert.equal(refused.body.error.code, 'draining');
    assert.equal((await call(`${base}/api/opencode/status`, 'GET')).body.draining, true);
    let last;
    for (let next = await stream.next(); next.done !== true; next = await stream.next()) last = next.value;
    assert.equal(last?.event, 'done', 'the running turn did not finish during the drain');
    assert.equal(last?.data.text, 'fake reply #1 [model=default] [agent=build]: finish me');
    const [code] = await exited;
    assert.equal(code, 0);
    assert.ok(Date.now() - stoppedAt < 10000);
    assert.deepEqual(pidsWithEnv(tag), []);
  });

  it('after a SIGKILL of the service, the next boot reaps its orphans (never a reused pid) and keeps every session', async () => {
    const env = serviceEnv('crash', { OCPM_MODE: 'per-message', OCPM_KILL_GRACE_MS: '300', OCPM_DRAIN_TIMEOUT_MS: '300' });
    const first = startBinary(env);
    const firstExit = once(first.child, 'exit');
    const listening = await waitForLog(first.lines, 'HTTP server listening');
    await waitForLog(first.lines, 'OpenCode process manager initialized');
    const base = `http://127.0.0.1:${String(listening.port)}`;
    await call(`${base}/api/sessions/crash`, 'PUT', { workspace: 'crash' });
    const stream = streamEvents(`${base}/api/sessions/crash/messages`, { text: '#fake hang grandchild\nlost turn' });
    for (let next = await stream.next(); next.done !== true && next.value.data.type !== 'tool_use'; next = await stream.next());
    const sessionBefore = (await call(`${base}/api/sessions/crash`, 'GET')).body;
    first.child.kill('SIGKILL');
    await firstExit;
    await stream.return(undefined).catch(() => undefined);
    const orphans = pidsWithEnv(tag);
    assert.ok(orphans.length >= 2, 'the crash should have left opencode and its grandchild behind');
    const orphanTmp = orphans
      .map((pid) =>
        readFileSync(`/proc/${pid}/environ`, 'utf8')
          .split('\0')
          .find((e) => e.startsWith('TMPDIR='))
          ?.slice(7),
      )
      .find((dir) => dir !== undefined);
    assert.ok(orphanTmp !== undefined && existsSync(orphanTmp), 'the orphan should have its private TMPDIR');

    // A recorded pid that now belongs to another process (different start time) must survive.
    const stranger = spawn('sleep', ['60'], { stdio: 'ignore' });
    let second: ReturnType<typeof startBinary> | undefined;
    try {
      const db = new Database(path.join(env.OCPM_DATA_DIR!, 'registry.sqlite'));
      db.prepare('INSERT INTO processes (process_id, pid, pgid, start_time, cmdline, kind, started_at) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
        randomUUID(),
        stranger.pid,
        stranger.pid,
        1,
        'opencode run --format json',
        'run',
        Date.now(),
      );
      db.close();

      second = startBinary(env);
      const secondExit = once(second.child, 'exit');
      const listening2 = await waitForLog(second.lines, 'HTTP server listening');
      const reaped = await waitForLog(second.lines, 'Reaped processes left by a previous run of the service');
      assert.ok(Number(reaped.processes) >= 2);
      await waitForLog(second.lines, 'OpenCode process manager initialized');
      // The second service and its own children (tsx's esbuild service) are not orphans.
      const left = pidsWithEnv(tag)
        .filter((pid) => pid !== second?.child.pid && parentOf(pid) !== second?.child.pid)
        .map((pid) => `${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ')}`);
      assert.deepEqual(left, [], 'orphans of the crashed run are still alive');
      assert.ok(isPidLive(stranger.pid!), 'a process that merely reused a recorded pid was killed');
      assert.equal(existsSync(orphanTmp), false, "the orphan's private TMPDIR was left behind");
      const base2 = `http://127.0.0.1:${String(listening2.port)}`;
      const metrics = (await call(`${base2}/metrics`, 'GET')).body as string;
      assert.match(metrics, /^opencode_manager_orphans_reaped_total [2-9]/m);
      const sessionAfter = (await call(`${base2}/api/sessions/crash`, 'GET')).body;
      assert.equal(sessionAfter.workspace, sessionBefore.workspace);
      assert.equal(sessionAfter.opencodeSessionId, sessionBefore.opencodeSessionId);
      const turns = (await call(`${base2}/api/sessions/crash/messages`, 'GET')).body.messages;
      assert.equal(turns[0].status, 'interrupted');
      const next = await call(`${base2}/api/sessions/crash/messages`, 'POST', { text: 'after the crash' });
      assert.equal(next.status, 200);
      assert.equal(next.body.text, 'fake reply #2 [model=default] [agent=build]: after the crash');
      second.child.kill('SIGTERM');
      assert.equal((await secondExit)[0], 0);
    } finally {
      stranger.kill('SIGKILL');
      second?.child.kill('SIGKILL');
    }
  });

  it('a second signal during the drain exits at once, still killing every child', async () => {
    const { child, lines } = startBinary(serviceEnv('second-signal', { OCPM_MODE: 'per-message', OCPM_DRAIN_TIMEOUT_MS: '60000' }));
    const exited = once(child, 'exit');
    const listening = await waitForLog(lines, 'HTTP server listening');
    await waitForLog(lines, 'OpenCode process manager initialized');
    const base = `http://127.0.0.1:${String(listening.port)}`;
    await call(`${base}/api/sessions/x`, 'PUT', { workspace: 'x' });
    const stream = streamEvents(`${base}/api/sessions/x/messages`, { text: '#fake hang grandchild ignore-sigterm\nx' });
    for (let next = await stream.next(); next.done !== true && next.value.data.type !== 'tool_use'; next = await stream.next());
    child.kill('SIGTERM');
    await waitForLog(lines, 'Draining: no new messages; waiting for accepted ones');
    const secondAt = Date.now();
    child.kill('SIGINT');
    const [code] = await exited;
    assert.equal(code, 1);
    assert.ok(Date.now() - secondAt < 5000, 'the second signal did not exit at once');
    await stream.return(undefined).catch(() => undefined);
    await waitFor('the SIGKILLed children to be gone', () => pidsWithEnv(tag).length === 0);
  });

  it('refuses to start on a corrupt registry database, saying which file and what to do', async () => {
    const dataDir = `${temp.dir}/data5`;
    await mkdir(dataDir, { recursive: true });
    await writeFile(path.join(dataDir, 'registry.sqlite'), 'not a database '.repeat(500));
    const { child, lines } = startBinary({
      PORT: '0',
      HOST: '127.0.0.1',
      OCPM_DATA_DIR: dataDir,
      OCPM_WORKSPACE_ROOT: `${temp.dir}/ws5`,
      OCPM_OPENCODE_BIN: FAKE_OPENCODE,
    });
    const exited = once(child, 'exit');
    const entry = await waitForLog(lines, 'The registry database is unusable; not starting');
    assert.match(String(entry.error), /registry\.sqlite cannot be used.*move the file aside/);
    assert.equal((await exited)[0], 1);
  });

  it('refuses to start with a bad setting and names the variable', async () => {
    const { child, lines } = startBinary({ OCPM_TURN_TIMEOUT_MS: 'soon' });
    const exited = once(child, 'exit');
    const entry = await waitForLog(lines, 'Invalid configuration; not starting');
    assert.equal(entry.variable, 'OCPM_TURN_TIMEOUT_MS');
    assert.match(String(entry.reason), /expected an integer.*got "soon"/);
    const [code] = await exited;
    assert.equal(code, 1);
  });
});

/** The parent pid of a process, from /proc/<pid>/stat (the field after the parenthesised name). */
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}
