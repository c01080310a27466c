// ServerPool used directly with the fake opencode (real `serve` processes on loopback): slots start
// and balance sessions, an instance that dies is restarted for that reason only, a crash loop marks
// the slot failed, a failed probe streak replaces the instance, a probe that throws is counted (the
// probes go on), and stop ends every process.
import assert from 'node:assert/strict';
import path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { configDefaults } from '../../src/config/config.js';
import { createSilentLogger } from '../../src/logging/logger.js';
import { buildChildEnv } from '../../src/manager/child-env.js';
import { createMetrics, type Metrics } from '../../src/metrics/metrics.js';
import type { PoolConfig, Slot } from '../../src/manager/server/server-pool.js';
import { SharedServerPool } from '../../src/manager/server/shared-server-pool.js';
import type { InstanceState } from '../../src/manager/server/server-instance.js';
import { FAKE_OPENCODE, makeTempDir } from '../helpers/fixtures.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startPool(
  size: number,
  config: Partial<PoolConfig> = {},
  env: Record<string, string> = {},
): Promise<{ pool: SharedServerPool; metrics: Metrics }> {
  const temp = await makeTempDir('pool');
  const metrics = createMetrics({ collectDefault: false });
  const pool = new SharedServerPool(
    { ...configDefaults().pool, healthIntervalMs: 60_000, ...config },
    { size, binary: FAKE_OPENCODE, dataDir: path.join(temp.dir, 'data'), env: { ...buildChildEnv(process.env), ...env }, killGraceMs: 500 },
    metrics,
    createSilentLogger(),
  );
  cleanups.push(async () => {
    await pool.stop();
    await temp.remove();
  });
  await pool.start();
  return { pool, metrics };
}

/** Waits for the slot's state changes until it is in `state`. */
async function reach(slot: Slot, state: InstanceState): Promise<void> {
  while (slot.state !== state) await slot.nextChange();
}

async function restarts(metrics: Metrics): Promise<Record<string, number>> {
  return Object.fromEntries((await metrics.serverRestarts.get()).values.map((v) => [String(v.labels.reason), v.value]));
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('ServerPool', () => {
  it('starts every slot with its own process and data dir, and spreads new sessions over them', async () => {
    const { pool } = await startPool(2);
    const status = pool.statusOf();
    assert.deepEqual(
      status.map((s) => s.state),
      ['ready', 'ready'],
    );
    assert.notEqual(status[0]!.pid, status[1]!.pid);
    assert.notEqual(pool.slots[0]!.dataHome, pool.slots[1]!.dataHome);
    assert.deepEqual([pool.pickSlot().index, pool.pickSlot().index, pool.pickSlot().index], [0, 1, 0]);
    const instance = await pool.acquire(pool.slots[1]!);
    assert.equal(instance?.pid, status[1]!.pid);
  });

  it('restarts an instance that exits, counting the restart as exit and nothing else', async () => {
    const { pool, metrics } = await startPool(1, { restartBackoffMs: 0 });
    const slot = pool.slots[0]!;
    const firstPid = slot.instance!.pid!;
    process.kill(firstPid, 'SIGKILL');
    await reach(slot, 'backoff');
    await reach(slot, 'ready');
    assert.notEqual(slot.instance!.pid, firstPid);
    assert.equal(slot.restarts, 1);
    assert.deepEqual(await restarts(metrics), { exit: 1, health: 0, memory: 0, start_failed: 0, retry: 0, operator: 0 });
  });

  it('marks a slot whose server never starts failed after OCPM_MAX_RESTARTS, and serves nothing from it', async () => {
    const { pool, metrics } = await startPool(1, { restartBackoffMs: 0, maxRestarts: 2, serverRetryMs: 3_600_000 }, { FAKE_OPENCODE_SERVE_BUSY_PORT: '1' });
    const slot = pool.slots[0]!;
    await reach(slot, 'failed');
    assert.equal(pool.canServe(), false);
    assert.equal(await pool.acquire(slot), undefined);
    assert.deepEqual(await restarts(metrics), { exit: 0, health: 0, memory: 0, start_failed: 2, retry: 0, operator: 0 });
    assert.match(pool.statusOf()[0]!.lastError ?? '', /exited before the listening line/);
  });

  it('replaces an instance after OCPM_HEALTH_FAILURES failed probes in a row', async () => {
    const { pool, metrics } = await startPool(
      1,
      { healthIntervalMs: 100, healthFailures: 2, restartBackoffMs: 0 },
      { FAKE_OPENCODE_SERVE_HEALTH_FAIL_AFTER: '1' },
    );
    const slot = pool.slots[0]!;
    const firstPid = slot.instance!.pid!;
    await reach(slot, 'backoff');
    assert.equal(alive(firstPid), false, 'the unhealthy instance is stopped before its replacement starts');
    await reach(slot, 'starting');
    assert.deepEqual(await restarts(metrics), { exit: 0, health: 1, memory: 0, start_failed: 0, retry: 0, operator: 0 });
    assert.ok(((await metrics.healthFailures.get()).values.find((v) => v.labels.class === 'bad_status')?.value ?? 0) >= 2);
  });

  it('counts a probe that throws (pool_probe) and keeps probing, instead of an unhandled rejection', async () => {
    const { pool, metrics } = await startPool(1, { healthIntervalMs: 50 });
    const instance = pool.slots[0]!.instance!;
    const readMemory = instance.readMemory.bind(instance);
    instance.readMemory = () => {
      throw new Error('the memory reading failed');
    };
    const probeErrors = async (): Promise<number> => (await metrics.housekeepingErrors.get()).values.find((v) => v.labels.task === 'pool_probe')?.value ?? 0;
    try {
      // Two failures: the interval survived the first one.
      while ((await probeErrors()) < 2) await new Promise((resolve) => setTimeout(resolve, 25));
    } finally {
      instance.readMemory = readMemory;
    }
    assert.equal(pool.slots[0]!.state, 'ready');
  });

  it('ends every server process on stop', async () => {
    const { pool } = await startPool(2);
    const pids = pool.statusOf().map((s) => s.pid!);
    await pool.stop();
    assert.deepEqual(pids.filter(alive), []);
    assert.deepEqual(
      pool.statusOf().map((s) => s.state),
      ['stopped', 'stopped'],
    );
  });
});
