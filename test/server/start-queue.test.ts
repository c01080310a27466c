// Server starts wait their turn: with OCPM_MAX_CONCURRENT_STARTS=1 a pool of three slow-starting
// servers starts them one after another (each waits for the ones before it), and the status and
// metrics say so; with the limit at the pool size nothing waits (the same test with the gate off).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call } from '../helpers/http.js';
import { sample } from '../helpers/metrics-text.js';
import { startTestService, type TestService } from '../helpers/test-service.js';

const START_DELAY_MS = 400;

async function bootPool(maxConcurrentStarts: number): Promise<TestService> {
  return startTestService({
    OCPM_MODE: 'server',
    OCPM_POOL_SIZE: '3',
    OCPM_MAX_CONCURRENT_STARTS: String(maxConcurrentStarts),
    FAKE_OPENCODE_SERVE_START_DELAY_MS: String(START_DELAY_MS),
  });
}

async function startWaits(svc: TestService): Promise<{ count: number; seconds: number; waiting: number }> {
  const text = (await call(`${svc.url}/metrics`, 'GET')).body as string;
  return {
    count: sample(text, 'opencode_manager_server_start_wait_seconds_count'),
    seconds: sample(text, 'opencode_manager_server_start_wait_seconds_sum'),
    waiting: sample(text, 'opencode_manager_server_starts_waiting'),
  };
}

describe('server starts, one at a time (OCPM_MAX_CONCURRENT_STARTS=1)', () => {
  let svc: TestService;
  before(async () => {
    svc = await bootPool(1);
  });
  after(async () => {
    await svc.close();
  });

  it('starts each server after the one before it is ready, and reports the queue', async () => {
    const status = (await call(`${svc.url}/api/opencode/status`, 'GET')).body;
    assert.deepEqual(
      status.processManager.instances.map((instance: { state: string }) => instance.state),
      ['ready', 'ready', 'ready'],
    );
    assert.deepEqual(status.processManager.starts, { limit: 1, starting: 0, waiting: 0, oldestWaitMs: 0 });
    const waits = await startWaits(svc);
    assert.equal(waits.count, 3, 'every start is observed once');
    // The second waited for one start, the third for two: at least 3 start delays in all.
    assert.ok(waits.seconds >= (3 * START_DELAY_MS) / 1000, `waited ${waits.seconds} s in all`);
    assert.equal(waits.waiting, 0);
  });
});

describe('server starts, all at once (OCPM_MAX_CONCURRENT_STARTS at the pool size)', () => {
  let svc: TestService;
  before(async () => {
    svc = await bootPool(3);
  });
  after(async () => {
    await svc.close();
  });

  it('lets no start wait', async () => {
    const waits = await startWaits(svc);
    assert.equal(waits.count, 3);
    assert.ok(waits.seconds < START_DELAY_MS / 1000, `waited ${waits.seconds} s in all`);
  });
});
