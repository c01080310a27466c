// Housekeeping failures are logged and counted, never thrown where nobody listens: the helpers
// themselves, a purge whose removal fails (the delete still succeeds, and a symlink in the workspace
// leads nowhere), and the boot's orphan reaper (a failed TMPDIR removal keeps the record, the others
// are reaped; a TMPDIR with a link to outside goes without what it points to).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createLogger, type Logger } from '../../src/logging/logger.js';
import { OpencodeProcessManager } from '../../src/manager/opencode-process-manager.js';
import { reapOrphans } from '../../src/manager/process-tree/orphan-reaper.js';
import { childTmpDir } from '../../src/manager/process-tree/spawn-tracked.js';
import { createMetrics, type Metrics } from '../../src/metrics/metrics.js';
import { memoryRegistry } from '../../src/store/registry.js';
import { HOUSEKEEPING_FAILED, HOUSEKEEPING_TASKS, housekeepingFailed, inBackground, tolerate } from '../../src/util/housekeeping.js';
import { makeTempDir } from '../helpers/fixtures.js';

/** A JSON logger whose lines are kept, and a fresh registry. */
function capture(): { logger: Logger; metrics: Metrics; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: createLogger({ level: 'info', format: 'json', stream: sink }), metrics: createMetrics({ collectDefault: false }), lines };
}

async function errorsBy(metrics: Metrics): Promise<Record<string, number>> {
  return Object.fromEntries((await metrics.housekeepingErrors.get()).values.map((v) => [String(v.labels.task), v.value]));
}

/** Resolves once the pending callbacks have run (a rejection handler, a log write). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('housekeeping', () => {
  let temp: { dir: string; remove: () => Promise<void> };
  before(async () => {
    temp = await makeTempDir('housekeeping');
  });
  after(async () => {
    await temp.remove();
  });

  it('exports the counter at 0 for every task, and counts and logs (warn, with the task) each failure', async () => {
    const { logger, metrics, lines } = capture();
    assert.deepEqual(await errorsBy(metrics), Object.fromEntries(HOUSEKEEPING_TASKS.map((task) => [task, 0])));
    housekeepingFailed({ logger, metrics }, 'purge', new Error('boom'), { sessionId: 's1' });
    await settle();
    assert.equal((await errorsBy(metrics)).purge, 1);
    assert.deepEqual(
      lines.map(({ level, message, task, sessionId, error }) => ({ level, message, task, sessionId, error })),
      [{ level: 'warn', message: HOUSEKEEPING_FAILED, task: 'purge', sessionId: 's1', error: 'boom' }],
    );
  });

  it('inBackground reports a rejection and a synchronous throw instead of leaving them unhandled; tolerate gives undefined', async () => {
    const { logger, metrics } = capture();
    const target = { logger, metrics };
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      inBackground(target, 'supervisor', () => Promise.reject(new Error('later')));
      inBackground(target, 'pool_probe', () => {
        throw new Error('at once');
      });
      assert.equal(await tolerate(target, 'tmp_cleanup', () => Promise.reject(new Error('no'))), undefined);
      assert.equal(await tolerate(target, 'tmp_cleanup', () => Promise.resolve(7)), 7);
      await settle();
      await settle();
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    assert.deepEqual(unhandled, []);
    const counts = await errorsBy(metrics);
    assert.deepEqual([counts.supervisor, counts.pool_probe, counts.tmp_cleanup], [1, 1, 1]);
  });

  describe('purge', () => {
    const manager = (): { manager: OpencodeProcessManager; lines: Array<Record<string, unknown>>; metrics: Metrics } => {
      const { logger, metrics, lines } = capture();
      const created = new OpencodeProcessManager({
        settings: { storage: { dataDir: path.join(temp.dir, 'data') }, isolation: { isolation: 'off' } },
        logger,
        metrics,
      });
      return { manager: created, lines, metrics };
    };

    it("removes the workspace without following a link to another directory (that one's files stay)", async () => {
      const { manager: m, metrics } = manager();
      const workspace = path.join(temp.dir, 'ws', 'linked');
      const outside = path.join(temp.dir, 'other-workspace');
      mkdirSync(path.join(workspace, 'src'), { recursive: true });
      mkdirSync(outside, { recursive: true });
      writeFileSync(path.join(outside, 'precious.txt'), 'keep');
      writeFileSync(path.join(workspace, 'src', 'a.ts'), 'x');
      symlinkSync(outside, path.join(workspace, 'src', 'escape'));
      m.registerSession('linked', workspace);
      assert.equal(await m.deleteSession('linked', { purge: true }), true);
      assert.equal(existsSync(workspace), false);
      assert.equal(readFileSync(path.join(outside, 'precious.txt'), 'utf8'), 'keep');
      assert.equal((await errorsBy(metrics)).purge, 0);
    });

    it('still deletes the session when its workspace cannot be removed: the failure is logged and counted', async () => {
      const { manager: m, metrics, lines } = manager();
      const file = path.join(temp.dir, 'not-a-directory');
      writeFileSync(file, 'x');
      m.registerSession('broken', path.join(file, 'ws'));
      assert.equal(await m.deleteSession('broken', { purge: true }), true);
      assert.equal(m.getSession('broken'), undefined);
      assert.equal((await errorsBy(metrics)).purge, 1);
      await settle();
      const line = lines.find((entry) => entry.message === HOUSEKEEPING_FAILED);
      assert.equal(line?.task, 'purge');
      assert.equal(line?.sessionId, 'broken');
      assert.match(String(line?.error), /ENOTDIR/);
    });
  });

  describe('the orphan reaper at boot', () => {
    const row = (processId: string) => ({
      processId,
      // No such process: nothing to kill, only the TMPDIR and the record to clean up.
      pid: 2 ** 31 - 2,
      pgid: 2 ** 31 - 2,
      startTime: 1,
      cmdline: 'gone',
      kind: 'run' as const,
      startedAt: Date.now(),
    });

    it('removes a TMPDIR without following its link; a failed removal is counted and its record kept for the next boot', async () => {
      const { logger, metrics, lines } = capture();
      const { processes } = memoryRegistry();
      const outside = path.join(temp.dir, 'reaper-outside');
      mkdirSync(outside);
      writeFileSync(path.join(outside, 'keep.txt'), 'keep');
      const good = randomUUID();
      mkdirSync(path.join(childTmpDir(good), 'nested'), { recursive: true });
      symlinkSync(outside, path.join(childTmpDir(good), 'nested', 'link'));
      // A "TMPDIR" below a regular file cannot be removed (ENOTDIR).
      const blocker = `${randomUUID()}`;
      writeFileSync(childTmpDir(blocker), 'a file');
      const bad = `${blocker}/below`;
      assert.equal(childTmpDir(bad), path.join(os.tmpdir(), `ocpm-child-${blocker}`, 'below'));
      try {
        processes.add(row(good));
        processes.add(row(bad));
        const result = await reapOrphans(processes, 100, { logger, metrics });
        assert.deepEqual(result, { rows: 2, killed: 0, failed: 1 });
        assert.equal(existsSync(childTmpDir(good)), false);
        assert.equal(readFileSync(path.join(outside, 'keep.txt'), 'utf8'), 'keep');
        assert.deepEqual(
          processes.list().map((kept) => kept.processId),
          [bad],
        );
        assert.equal((await errorsBy(metrics)).orphan_reap, 1);
        await settle();
        assert.equal(lines.find((entry) => entry.message === HOUSEKEEPING_FAILED)?.processId, bad);
      } finally {
        rmSync(childTmpDir(blocker), { force: true });
        rmSync(childTmpDir(good), { recursive: true, force: true });
      }
    });
  });
});
