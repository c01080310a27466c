// The service binary's last resort: a promise rejection nobody handled is logged (error, with the
// task and the stack) and counted in opencode_manager_housekeeping_errors_total{task="unhandled_rejection"},
// and the service keeps serving, where Node would have exited. The rejection comes from a test-only
// preload (`--import` of a data: module that rejects a promise on SIGUSR2): the service has no
// trigger of its own. Without the handler main.ts installs, the first rejection ends the process.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UNHANDLED_REJECTION } from '../../src/util/housekeeping.js';
import { exitOf, stopChild } from '../helpers/child-process.js';
import { FAKE_OPENCODE, makeTempDir, PROJECT_ROOT } from '../helpers/fixtures.js';
import { call, TEST_API_TOKEN } from '../helpers/http.js';
import { sample } from '../helpers/metrics-text.js';
import { pidsWithEnv } from '../helpers/processes.js';
import { startBinary, waitForLog } from '../helpers/service-binary.js';

const REJECT_ON_SIGUSR2 = `process.on('SIGUSR2', () => { Promise.reject(new Error('test-only rejection nobody handles')); });`;

describe('the service binary, given a promise rejection nobody handles', () => {
  let temp: { dir: string; remove: () => Promise<void> };
  const tag = `FAKE_OPENCODE_TEST_TAG=${randomUUID()}`;
  const [tagName, tagValue] = tag.split('=') as [string, string];
  before(async () => {
    temp = await makeTempDir('last-resort');
  });
  after(async () => {
    assert.deepEqual(pidsWithEnv(tag), []);
    await temp.remove();
  });

  it('logs it, counts it as unhandled_rejection and keeps serving (twice), then stops cleanly on SIGTERM', async (t) => {
    const { child, lines } = startBinary(
      {
        PORT: '0',
        HOST: '127.0.0.1',
        OCPM_OPENCODE_BIN: FAKE_OPENCODE,
        OCPM_MODE: 'per-message',
        OCPM_WORKSPACE_ROOT: `${temp.dir}/ws`,
        OCPM_DATA_DIR: `${temp.dir}/data`,
        OCPM_CHILD_ENV_ALLOW: 'FAKE_OPENCODE_*',
        OCPM_API_TOKEN: TEST_API_TOKEN,
        OCPM_ISOLATION: 'off',
        [tagName]: tagValue,
      },
      {
        nodeArgs: ['--import', 'tsx', '--import', `data:text/javascript,${encodeURIComponent(REJECT_ON_SIGUSR2)}`, path.join(PROJECT_ROOT, 'src', 'main.ts')],
      },
    );
    const exited = exitOf(child);
    t.after(async () => {
      if (child.exitCode === null && child.signalCode === null) await stopChild(child, 5000);
    });
    const listening = await waitForLog(lines, 'HTTP server listening');
    await waitForLog(lines, 'OpenCode process manager initialized');
    const base = `http://127.0.0.1:${String(listening.port)}`;
    const rejections = async (): Promise<number> =>
      sample((await call(`${base}/metrics`, 'GET')).body as string, 'opencode_manager_housekeeping_errors_total', { task: 'unhandled_rejection' });
    assert.equal(await rejections(), 0);

    for (let count = 1; count <= 2; count += 1) {
      child.kill('SIGUSR2');
      // Rejects ("the service exited before logging …") when the rejection ended the process.
      const entry = await waitForLog(lines, UNHANDLED_REJECTION);
      assert.equal(entry.level, 'error');
      assert.equal(entry.task, 'unhandled_rejection');
      assert.equal(entry.error, 'test-only rejection nobody handles');
      assert.match(String(entry.stack), /^Error: test-only rejection nobody handles\n\s+at /);
      assert.equal(child.exitCode, null, 'the service exited');
      assert.equal((await call(`${base}/livez`, 'GET')).status, 200);
      assert.equal((await call(`${base}/api/sessions/s${count}`, 'PUT', { workspace: `s${count}` })).status, 201);
      assert.equal(await rejections(), count);
    }

    child.kill('SIGTERM');
    const { code } = await exited;
    assert.equal(code, 0);
  });
});
