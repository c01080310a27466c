// loadConfig: defaults, relative paths resolved against cwd, and a ConfigError naming the variable,
// the expectation and the value received for every bad input.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CONFIG_VARIABLES, ConfigError, configDefaults, loadConfig, type Config } from '../../src/config/config.js';

/** The sections merged into one object: keys are unique across sections (a test below checks it). */
function flatten(config: Config): Record<string, unknown> {
  return Object.assign({}, ...Object.values(config)) as Record<string, unknown>;
}

const flatConfig = (env: NodeJS.ProcessEnv, cwd: string): Record<string, any> => flatten(loadConfig(env, cwd));

const CWD = path.resolve('/srv/ocpm-app');

function expectConfigError(env: NodeJS.ProcessEnv, variable: string, expectedPart: string, received: string): void {
  assert.throws(
    () => flatConfig(env, CWD),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
      assert.equal(error.name, 'ConfigError');
      assert.equal(error.variable, variable);
      assert.equal(error.received, received);
      assert.ok(error.message.includes(variable), `message names the variable: ${error.message}`);
      assert.ok(error.message.includes(expectedPart), `message says what was expected: ${error.message}`);
      assert.ok(error.message.includes(JSON.stringify(received)), `message says what arrived: ${error.message}`);
      return true;
    },
  );
}

describe('loadConfig', () => {
  it("uses the table's defaults when nothing is set (the generated docs/configuration.md shows them all)", () => {
    const config = loadConfig({}, CWD);
    assert.equal(config.http.port, 3000);
    assert.equal(config.storage.workspaceRoot, path.join(CWD, 'workspaces'));
    assert.equal(config.storage.dataDir, path.join(CWD, 'data'));
    assert.equal(config.opencode.opencodeBin, undefined);
    assert.equal(config.pool.poolSize, undefined);
    assert.deepEqual(config.auth.apiToken, []);
    assert.equal(config.isolation.isolation, 'auto');
  });

  it('ignores variables that are not its own', () => {
    const config = flatConfig({ NODE_ENV: 'production', OCPM_UNKNOWN: 'x', PATH: '/bin' }, CWD);
    assert.equal(config.port, 3000);
  });

  it('reads every variable when set', () => {
    const config = flatConfig(
      {
        PORT: '8080',
        HOST: '127.0.0.1',
        OCPM_OPENCODE_BIN: 'bin/opencode',
        OCPM_WORKSPACE_ROOT: '/var/lib/ocpm/ws',
        OCPM_DATA_DIR: 'state',
        OCPM_TURN_TIMEOUT_MS: '1000',
        OCPM_KILL_GRACE_MS: '0',
        OCPM_SESSION_IDLE_MS: '60000',
        OCPM_ABORT_ON_DISCONNECT: 'false',
        OCPM_MAX_BODY_BYTES: '2048',
        OCPM_MAX_MESSAGE_CHARS: '10',
        OCPM_CHILD_ENV_ALLOW: 'FOO',
        OCPM_MODE: 'server',
        OCPM_POOL_SIZE: '3',
        OCPM_SERVER_START_TIMEOUT_MS: '5000',
        OCPM_HEALTH_INTERVAL_MS: '200',
        OCPM_HEALTH_TIMEOUT_MS: '300',
        OCPM_HEALTH_FAILURES: '2',
        OCPM_MAX_RESTARTS: '4',
        OCPM_RESTART_WINDOW_MS: '60000',
        OCPM_RESTART_BACKOFF_MS: '10',
        OCPM_RESTART_BACKOFF_MAX_MS: '100',
        OCPM_RESTART_DRAIN_MS: '50',
        OCPM_SERVER_RETRY_MS: '2000',
        OCPM_MAX_INSTANCE_RSS_MB: '0',
        OCPM_DIRECTORY_IDLE_MS: '1000',
        OCPM_ISOLATION: 'off',
        OCPM_SANDBOX_READ_PATHS: '/srv/tools,/opt/x',
        OCPM_TOOL_ENV_ALLOW: 'GIT_AUTHOR_*',
        OCPM_STALL_TIMEOUT_MS: '0',
        OCPM_MAX_CONCURRENT_TURNS: '2',
        OCPM_QUEUE_LIMIT: '5',
        OCPM_SESSION_QUEUE_LIMIT: '1',
        OCPM_QUEUE_TIMEOUT_MS: '700',
        OCPM_DRAIN_TIMEOUT_MS: '900',
        OCPM_AUTH: 'disabled',
        OCPM_API_TOKEN: 'old-token, new-token',
        OCPM_API_TOKEN_FILE: 'secrets/token',
        OCPM_METRICS_TOKEN: 'scrape-token',
        OCPM_RATE_LIMIT_PER_MIN: '0',
        OCPM_MAX_STREAMS_PER_TOKEN: '3',
        OCPM_CORS_ORIGINS: 'https://app.example.com, http://localhost:5173',
        OCPM_AUTO_CREATE_WORKSPACES: 'true',
        OCPM_ALLOW_SHARED_WORKSPACES: 'yes',
        OCPM_LOG_LEVEL: 'debug',
        OCPM_LOG_FORMAT: 'pretty',
      },
      CWD,
    );
    const expected: Record<string, unknown> = {
      port: 8080,
      host: '127.0.0.1',
      opencodeBin: path.join(CWD, 'bin', 'opencode'),
      workspaceRoot: path.resolve('/var/lib/ocpm/ws'),
      dataDir: path.join(CWD, 'state'),
      turnTimeoutMs: 1000,
      killGraceMs: 0,
      sessionIdleMs: 60000,
      abortOnDisconnect: false,
      maxBodyBytes: 2048,
      maxMessageChars: 10,
      childEnvAllow: ['FOO'],
      mode: 'server',
      poolSize: 3,
      serverStartTimeoutMs: 5000,
      healthIntervalMs: 200,
      healthTimeoutMs: 300,
      healthFailures: 2,
      maxRestarts: 4,
      restartWindowMs: 60000,
      restartBackoffMs: 10,
      restartBackoffMaxMs: 100,
      restartDrainMs: 50,
      serverRetryMs: 2000,
      maxInstanceRssMb: 0,
      directoryIdleMs: 1000,
      isolation: 'off',
      sandboxReadPaths: ['/srv/tools', '/opt/x'],
      toolEnvAllow: ['GIT_AUTHOR_*'],
      stallTimeoutMs: 0,
      maxConcurrentTurns: 2,
      queueLimit: 5,
      sessionQueueLimit: 1,
      queueTimeoutMs: 700,
      drainTimeoutMs: 900,
      auth: 'disabled',
      apiToken: ['old-token', 'new-token'],
      apiTokenFile: path.join(CWD, 'secrets', 'token'),
      metricsToken: ['scrape-token'],
      rateLimitPerMin: 0,
      maxStreamsPerToken: 3,
      corsOrigins: ['https://app.example.com', 'http://localhost:5173'],
      autoCreateWorkspaces: true,
      allowSharedWorkspaces: true,
      logLevel: 'debug',
      logFormat: 'pretty',
    };
    // Every value set above is read (a setting added later needs no edit here).
    for (const [key, value] of Object.entries(expected)) assert.deepEqual(config[key], value, key);
  });

  it('resolves relative directories against the given cwd, not process.cwd()', () => {
    const config = flatConfig({ OCPM_WORKSPACE_ROOT: '../ws', OCPM_DATA_DIR: './d/e' }, '/a/b');
    assert.equal(config.workspaceRoot, path.resolve('/a/ws'));
    assert.equal(config.dataDir, path.resolve('/a/b/d/e'));
  });

  it('accepts the port bounds 0 and 65535', () => {
    assert.equal(flatConfig({ PORT: '0' }, CWD).port, 0);
    assert.equal(flatConfig({ PORT: '65535' }, CWD).port, 65535);
  });

  it('treats an empty string as unset', () => {
    const config = flatConfig(
      {
        PORT: '',
        HOST: '',
        OCPM_OPENCODE_BIN: '',
        OCPM_WORKSPACE_ROOT: '',
        OCPM_TURN_TIMEOUT_MS: '',
        OCPM_ABORT_ON_DISCONNECT: '',
        OCPM_CHILD_ENV_ALLOW: '',
        OCPM_LOG_LEVEL: '',
        OCPM_LOG_FORMAT: '',
      },
      CWD,
    );
    assert.equal(config.port, 3000);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.opencodeBin, undefined);
    assert.equal(config.workspaceRoot, path.join(CWD, 'workspaces'));
    assert.equal(config.turnTimeoutMs, 600000);
    assert.equal(config.abortOnDisconnect, true);
    assert.deepEqual(config.childEnvAllow, []);
    assert.equal(config.logLevel, 'info');
    assert.equal(config.logFormat, 'json');
  });

  describe('booleans', () => {
    const cases: Array<[string, boolean]> = [
      ['true', true],
      ['1', true],
      ['yes', true],
      ['false', false],
      ['0', false],
      ['no', false],
    ];
    for (const [raw, expected] of cases) {
      it(`reads OCPM_ABORT_ON_DISCONNECT=${raw} as ${String(expected)}`, () => {
        assert.equal(flatConfig({ OCPM_ABORT_ON_DISCONNECT: raw }, CWD).abortOnDisconnect, expected);
      });
    }
  });

  describe('OCPM_CHILD_ENV_ALLOW', () => {
    it("parses 'A, B_*' into ['A', 'B_*']", () => {
      assert.deepEqual(flatConfig({ OCPM_CHILD_ENV_ALLOW: 'A, B_*' }, CWD).childEnvAllow, ['A', 'B_*']);
    });

    it('drops empty items and surrounding spaces', () => {
      assert.deepEqual(flatConfig({ OCPM_CHILD_ENV_ALLOW: ' ,FOO ,, _BAR1 ,' }, CWD).childEnvAllow, ['FOO', '_BAR1']);
    });
  });

  describe('bad values', () => {
    it('rejects PORT=70000', () => {
      expectConfigError({ PORT: '70000' }, 'PORT', 'a port number 0-65535', '70000');
    });

    it('rejects a PORT that is not an integer', () => {
      expectConfigError({ PORT: '80.5' }, 'PORT', 'a port number', '80.5');
      expectConfigError({ PORT: '-1' }, 'PORT', 'a port number', '-1');
      expectConfigError({ PORT: ' 80' }, 'PORT', 'a port number', ' 80');
    });

    it('rejects OCPM_TURN_TIMEOUT_MS=abc', () => {
      expectConfigError({ OCPM_TURN_TIMEOUT_MS: 'abc' }, 'OCPM_TURN_TIMEOUT_MS', 'an integer number of milliseconds >= 100', 'abc');
    });

    it('rejects OCPM_TURN_TIMEOUT_MS below its minimum', () => {
      expectConfigError({ OCPM_TURN_TIMEOUT_MS: '99' }, 'OCPM_TURN_TIMEOUT_MS', '>= 100', '99');
    });

    it('rejects OCPM_KILL_GRACE_MS above its maximum', () => {
      expectConfigError({ OCPM_KILL_GRACE_MS: '600001' }, 'OCPM_KILL_GRACE_MS', '0-600000', '600001');
    });

    it('rejects OCPM_SESSION_IDLE_MS below its minimum', () => {
      expectConfigError({ OCPM_SESSION_IDLE_MS: '999' }, 'OCPM_SESSION_IDLE_MS', '>= 1000', '999');
    });

    it('rejects OCPM_LOG_FORMAT=xml', () => {
      expectConfigError({ OCPM_LOG_FORMAT: 'xml' }, 'OCPM_LOG_FORMAT', 'json or pretty', 'xml');
    });

    it('rejects an unknown OCPM_LOG_LEVEL', () => {
      expectConfigError({ OCPM_LOG_LEVEL: 'loud' }, 'OCPM_LOG_LEVEL', 'one of error, warn, info', 'loud');
    });

    it('rejects OCPM_ABORT_ON_DISCONNECT=maybe', () => {
      expectConfigError({ OCPM_ABORT_ON_DISCONNECT: 'maybe' }, 'OCPM_ABORT_ON_DISCONNECT', 'true or false', 'maybe');
    });

    it("rejects OCPM_CHILD_ENV_ALLOW='bad name'", () => {
      expectConfigError({ OCPM_CHILD_ENV_ALLOW: 'bad name' }, 'OCPM_CHILD_ENV_ALLOW', 'a comma-separated list of variable names', 'bad name');
    });

    it('rejects an OCPM_CHILD_ENV_ALLOW item with a wildcard that is not at the end', () => {
      expectConfigError({ OCPM_CHILD_ENV_ALLOW: 'OK, *_KEY' }, 'OCPM_CHILD_ENV_ALLOW', 'variable names', 'OK, *_KEY');
    });

    it('names the first bad variable in table order when several are bad', () => {
      expectConfigError({ OCPM_LOG_FORMAT: 'xml', PORT: 'abc' }, 'PORT', 'a port number', 'abc');
    });

    it('writes the message as "Invalid NAME: expected ..., got \\"value\\""', () => {
      assert.throws(() => flatConfig({ PORT: '70000' }, CWD), {
        message: 'Invalid PORT: expected a port number 0-65535, got "70000"',
      });
    });
  });
});

describe('CONFIG_VARIABLES', () => {
  it('never echoes a token in a configuration error', () => {
    assert.throws(
      () => flatConfig({ OCPM_API_TOKEN: 'has space secret' }, CWD),
      (error: Error) => {
        assert.match(error.message, /OCPM_API_TOKEN/);
        assert.doesNotMatch(error.message, /secret/);
        return true;
      },
    );
    assert.throws(() => flatConfig({ OCPM_CORS_ORIGINS: 'javascript:alert(1)' }, CWD), /OCPM_CORS_ORIGINS/);
    assert.throws(() => flatConfig({ OCPM_AUTH: 'off' }, CWD), /OCPM_AUTH/);
  });

  it('gives every variable a non-empty expectation text', () => {
    for (const v of CONFIG_VARIABLES) assert.ok(v.expected.length > 0, v.name);
  });
});

describe('configuration sections', () => {
  it('names each setting as its variable in camelCase without OCPM_, one name end to end', () => {
    const camel = (name: string): string =>
      name
        .replace(/^OCPM_/, '')
        .toLowerCase()
        .replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
    for (const v of CONFIG_VARIABLES) assert.equal(v.key, camel(v.name), `${v.name} reaches its consumer as ${v.section}.${v.key}`);
  });

  it('puts every variable in exactly one section, keys unique across sections', () => {
    const config = loadConfig({}, CWD);
    const keys = Object.values(config).flatMap((section) => Object.keys(section));
    assert.equal(keys.length, CONFIG_VARIABLES.length);
    assert.equal(new Set(keys).size, keys.length);
    for (const v of CONFIG_VARIABLES)
      assert.ok(v.key in (config as unknown as Record<string, Record<string, unknown>>)[v.section]!, `${v.name} in ${v.section}`);
  });

  it('takes defaults from the table: configDefaults equals loading an empty environment', () => {
    assert.deepEqual(configDefaults(CWD), loadConfig({}, CWD));
  });

  it('has typed defaults that the variable parsers accept as written in the doc', () => {
    const defaults = flatten(configDefaults('/'));
    for (const v of CONFIG_VARIABLES) {
      if (v.fallback === undefined || v.fallback === '' || v.name === 'OCPM_POOL_SIZE' || v.name === 'OCPM_REPLICA_NAME') continue;
      const parsed = flatConfig({ [v.name]: v.fallback }, '/');
      assert.deepEqual(parsed[v.key], defaults[v.key], `${v.name}=${v.fallback}`);
    }
  });

  it('hands a setting to its consumer under the same name', () => {
    const config = loadConfig({ OCPM_RESTART_BACKOFF_MS: '1234', OCPM_MAX_CONCURRENT_TURNS: '7', OCPM_API_TOKEN: 'a,b' }, CWD);
    assert.equal(config.pool.restartBackoffMs, 1234);
    assert.equal(config.queue.maxConcurrentTurns, 7);
    assert.deepEqual(config.auth.apiToken, ['a', 'b']);
  });
});
