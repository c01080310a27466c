// spawnTracked with real child processes (the fake opencode): stdin delivery, private TMPDIR,
// bounded stderr, and the kill of a whole tree, including a grandchild that escaped with setsid.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { spawnTracked, type SpawnTrackedOptions } from '../../src/manager/process-tree/spawn-tracked.js';
import { FAKE_OPENCODE, makeTempDir } from '../helpers/fixtures.js';
import { isPidLive, pidsWithEnv } from '../helpers/processes.js';

interface Event {
  type: string;
  part?: { text?: string; state?: { metadata?: { grandchildPid?: number } } };
}

describe('spawnTracked', () => {
  let workspace: string;
  let removeTemp: () => Promise<void>;
  const tag = `FAKE_OPENCODE_TEST_TAG=${randomUUID()}`;
  const [tagName, tagValue] = tag.split('=') as [string, string];

  before(async () => {
    const temp = await makeTempDir('spawn');
    workspace = temp.dir;
    removeTemp = temp.remove;
  });
  after(async () => {
    assert.deepEqual(pidsWithEnv(tag), []);
    await removeTemp();
  });

  function run(message: string, overrides: Partial<SpawnTrackedOptions> = {}, onEvent?: (event: Event) => void) {
    return spawnTracked({
      file: FAKE_OPENCODE,
      args: ['run', '--format', 'json', '--dir', workspace],
      cwd: workspace,
      env: { PATH: process.env.PATH ?? '', HOME: workspace, XDG_DATA_HOME: workspace, [tagName]: tagValue },
      stdin: message,
      timeoutMs: 30000,
      killGraceMs: 300,
      onStdoutLine: (line) => onEvent?.(JSON.parse(line) as Event),
      ...overrides,
    });
  }

  it('delivers a multi-line message that starts with a dash exactly, through stdin it then closes', async () => {
    const events: Event[] = [];
    const child = await run('--help\n"quoted" text', {}, (event) => events.push(event));
    const result = await child.done;
    assert.equal(result.exitCode, 0);
    assert.equal(result.termination, 'exit');
    const text = events.find((event) => event.type === 'text')?.part?.text;
    assert.equal(text, 'fake reply #1 [model=default] [agent=build]: --help\n"quoted" text');
  });

  it('gives the child a private TMPDIR and removes it afterwards', async () => {
    let tmpdir: string | undefined;
    const child = await run('hi', {
      file: process.execPath,
      args: ['-e', 'console.log(process.env.TMPDIR); require("fs").writeFileSync(process.env.TMPDIR + "/leak.so", "x")'],
      onStdoutLine: (line) => {
        tmpdir = line;
      },
    });
    await child.done;
    assert.ok(tmpdir?.includes('ocpm-child-'), `unexpected TMPDIR ${String(tmpdir)}`);
    assert.equal(existsSync(tmpdir ?? ''), false, 'the private TMPDIR was left behind');
  });

  it('keeps only a bounded tail of stderr', async () => {
    const child = await run('#fake stderr=500\nhi', { stderrTailLines: 10 });
    const result = await child.done;
    assert.equal(result.stderrTail.length, 10);
    assert.equal(result.stderrTail.at(-1), 'stderr line 500');
  });

  it('on timeout kills the child and a grandchild that left the process group, then settles', async () => {
    let grandchild: number | undefined;
    const child = await run('#fake hang grandchild\nhi', { timeoutMs: 1500 }, (event) => {
      grandchild ??= event.part?.state?.metadata?.grandchildPid;
    });
    const result = await child.done;
    assert.equal(result.termination, 'timeout');
    assert.ok(grandchild !== undefined, 'the fake reported no grandchild');
    assert.equal(isPidLive(grandchild), false, 'the setsid grandchild survived');
    assert.equal(isPidLive(child.pid), false);
    assert.ok(result.kill.found >= 2, `expected child and grandchild in the tree, found ${result.kill.found}`);
  });

  it('escalates to SIGKILL for a tree that ignores SIGTERM', async () => {
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const child = await run('#fake hang grandchild ignore-sigterm\nhi', {}, (event) => {
      if (event.type === 'tool_use') started();
    });
    await running;
    child.abort(new Error('test abort'));
    const result = await child.done;
    assert.equal(result.termination, 'abort');
    assert.equal(result.signal, 'SIGKILL');
    // The grandchild may die from SIGTERM before its handler is installed; the child never does.
    assert.ok(result.kill.forced >= 1, `expected forced kills, got ${result.kill.forced}`);
    assert.deepEqual(result.kill.survivors, []);
  });

  it('sweeps descendants left running after a normal exit', async () => {
    const child = await run('#fake grandchild\nhi');
    const result = await child.done;
    assert.equal(result.exitCode, 0);
    assert.equal(result.termination, 'exit');
    assert.ok(result.kill.found >= 1, 'the leftover grandchild was not found');
    assert.deepEqual(pidsWithEnv(tag), []);
  });

  it('rejects with a clear error when the executable does not exist', async () => {
    await assert.rejects(run('hi', { file: '/nonexistent/opencode' }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'spawn_failed');
      assert.match(error.message, /nonexistent/);
      return true;
    });
  });
});
