// Starts the real service in-process on port 0 with the fake opencode, each instance with its own
// temp dirs and a tag in every child's environment; close() stops it and asserts no child is left.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/logging/logger.js';
import { startService, type Service } from '../../src/service.js';
import { FAKE_OPENCODE, makeTempDir } from './fixtures.js';
import { TEST_API_TOKEN } from './http.js';
import { pidsWithEnv } from './processes.js';

export interface TestService {
  readonly url: string;
  readonly service: Service;
  readonly workspaceRoot: string;
  /** OCPM_DATA_DIR. */
  readonly dataDir: string;
  readonly recordDir: string;
  /** Every log line the service wrote, parsed. */
  readonly logs: Array<Record<string, unknown>>;
  /** The env entry every child of this service carries. */
  readonly tag: string;
  close(): Promise<void>;
}

export async function startTestService(env: Record<string, string> = {}): Promise<TestService> {
  const temp = await makeTempDir('svc');
  const tag = `FAKE_OPENCODE_TEST_TAG=${randomUUID()}`;
  const [tagName, tagValue] = tag.split('=') as [string, string];
  const fullEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PORT: '0',
    HOST: '127.0.0.1',
    OCPM_OPENCODE_BIN: FAKE_OPENCODE,
    OCPM_WORKSPACE_ROOT: `${temp.dir}/workspaces`,
    OCPM_DATA_DIR: `${temp.dir}/data`,
    OCPM_KILL_GRACE_MS: '500',
    OCPM_MODE: 'per-message',
    // The fake opencode writes its records outside any workspace, which a sandbox forbids: suites that
    // test isolation (test/isolation/, the real-opencode e2e) turn it on.
    OCPM_ISOLATION: 'off',
    OCPM_CHILD_ENV_ALLOW: 'FAKE_OPENCODE_*',
    OCPM_LOG_LEVEL: 'debug',
    OCPM_API_TOKEN: TEST_API_TOKEN,
    XDG_DATA_HOME: `${temp.dir}/xdg-data`,
    FAKE_OPENCODE_RECORD_DIR: `${temp.dir}/record`,
    [tagName]: tagValue,
    ...env,
  };
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  let config: ReturnType<typeof loadConfig>;
  let service: Service;
  try {
    config = loadConfig(fullEnv, temp.dir);
    const logger = createLogger({ level: config.log.logLevel, format: 'json', stream: sink });
    service = await startService(config, { env: fullEnv, logger });
  } catch (error) {
    await temp.remove();
    throw error;
  }
  return {
    url: `http://127.0.0.1:${service.port}`,
    service,
    workspaceRoot: config.storage.workspaceRoot,
    dataDir: config.storage.dataDir,
    recordDir: `${temp.dir}/record`,
    logs,
    tag,
    async close() {
      await service.close();
      assert.deepEqual(pidsWithEnv(tag), [], 'a child of the service is still alive after close()');
      await temp.remove();
    },
  };
}
