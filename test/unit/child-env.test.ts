// The opencode child's environment: what OpenCode needs passes, the service's own settings and
// unrelated secrets never do, and the offline defaults apply unless the operator overrides them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildChildEnv, isPassedToChild, OFFLINE_DEFAULTS } from '../../src/manager/child-env.js';

const PASSED = [
  'HOME',
  'PATH',
  'LANG',
  'LC_ALL',
  'LC_CTYPE',
  'XDG_CONFIG_HOME',
  'XDG_DATA_HOME',
  'OPENCODE_CONFIG',
  'OPENCODE_DISABLE_AUTOUPDATE',
  'ANTHROPIC_API_KEY',
  'OPENAI_API_KEY',
  'SOMEPROVIDER_API_KEY',
  'HTTPS_PROXY',
  'no_proxy',
];

const BLOCKED = [
  'OCPM_API_TOKEN',
  'OCPM_ANYTHING',
  'OCPM_CHILD_ENV_ALLOW',
  'OCPM_',
  'DATABASE_URL',
  'SECRET',
  'SESSION_SECRET',
  'NODE_OPTIONS',
  'LD_PRELOAD',
  'npm_config_registry',
  'home',
  'API_KEY',
  'MY_API_KEY_FILE',
];

describe('isPassedToChild', () => {
  for (const name of PASSED) {
    it(`passes ${name}`, () => {
      assert.equal(isPassedToChild(name), true);
    });
  }

  for (const name of BLOCKED) {
    it(`blocks ${name}`, () => {
      assert.equal(isPassedToChild(name), false);
    });
  }

  it("lets extra rules 'FOO' (exact) and 'BAR_*' (prefix) through", () => {
    const extra = ['FOO', 'BAR_*'];
    assert.equal(isPassedToChild('FOO', extra), true);
    assert.equal(isPassedToChild('BAR_ONE', extra), true);
    assert.equal(isPassedToChild('BAR_', extra), true);
    assert.equal(isPassedToChild('FOOD', extra), false, 'an exact rule is not a prefix');
    assert.equal(isPassedToChild('XFOO', extra), false);
    assert.equal(isPassedToChild('BAR', extra), false, "'BAR_*' needs the underscore");
    assert.equal(isPassedToChild('FOO'), false, 'without the rule FOO is blocked');
    assert.equal(isPassedToChild('BAR_ONE'), false, 'without the rule BAR_ONE is blocked');
  });

  it('never lets OCPM_* through, whatever the extra rules say', () => {
    for (const extra of [['OCPM_API_TOKEN'], ['OCPM_*'], ['OC*'], ['*']]) {
      assert.equal(isPassedToChild('OCPM_API_TOKEN', extra), false, JSON.stringify(extra));
      assert.equal(isPassedToChild('OCPM_ANYTHING', extra), false, JSON.stringify(extra));
    }
    assert.equal(isPassedToChild('DATABASE_URL', ['*']), true, "'*' does allow other names");
  });
});

describe('buildChildEnv', () => {
  const source: NodeJS.ProcessEnv = {
    HOME: '/home/svc',
    PATH: '/usr/bin:/bin',
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    XDG_DATA_HOME: '/home/svc/.local/share',
    OPENCODE_CONFIG: '/etc/opencode.json',
    ANTHROPIC_API_KEY: 'sk-ant',
    OPENAI_API_KEY: 'sk-oai',
    SOMEPROVIDER_API_KEY: 'sk-some',
    OCPM_API_TOKEN: 'service-token',
    OCPM_ANYTHING: 'x',
    DATABASE_URL: 'postgres://u:p@db/app',
    SECRET: 'hunter2',
    NODE_OPTIONS: '--require /tmp/evil.js',
    FOO: 'foo',
    BAR_ONE: 'bar1',
    UNDEFINED_VALUE: undefined,
  };

  it('copies exactly the allowed variables and adds the offline defaults', () => {
    assert.deepEqual(buildChildEnv(source), {
      ...OFFLINE_DEFAULTS,
      HOME: '/home/svc',
      PATH: '/usr/bin:/bin',
      LANG: 'C.UTF-8',
      LC_ALL: 'C.UTF-8',
      XDG_DATA_HOME: '/home/svc/.local/share',
      OPENCODE_CONFIG: '/etc/opencode.json',
      ANTHROPIC_API_KEY: 'sk-ant',
      OPENAI_API_KEY: 'sk-oai',
      SOMEPROVIDER_API_KEY: 'sk-some',
    });
  });

  it('adds names allowed by extra rules but still not OCPM_*', () => {
    const env = buildChildEnv(source, ['FOO', 'BAR_*', 'OCPM_*']);
    assert.equal(env.FOO, 'foo');
    assert.equal(env.BAR_ONE, 'bar1');
    assert.equal('OCPM_API_TOKEN' in env, false);
    assert.equal('OCPM_ANYTHING' in env, false);
    assert.equal('DATABASE_URL' in env, false);
    assert.equal('UNDEFINED_VALUE' in env, false);
  });

  it('sets the offline defaults on an empty environment', () => {
    assert.deepEqual(buildChildEnv({}), {
      OPENCODE_DISABLE_AUTOUPDATE: '1',
      OPENCODE_DISABLE_MODELS_FETCH: '1',
      OPENCODE_DISABLE_SHARE: '1',
      OPENCODE_DISABLE_LSP_DOWNLOAD: '1',
      OPENCODE_DISABLE_DEFAULT_PLUGINS: '1',
    });
  });

  it("lets an operator's value override an offline default", () => {
    const env = buildChildEnv({ OPENCODE_DISABLE_AUTOUPDATE: '0', OPENCODE_DISABLE_SHARE: 'false' });
    assert.equal(env.OPENCODE_DISABLE_AUTOUPDATE, '0');
    assert.equal(env.OPENCODE_DISABLE_SHARE, 'false');
    assert.equal(env.OPENCODE_DISABLE_MODELS_FETCH, '1');
  });

  it('does not change the source or the shared defaults', () => {
    const input: NodeJS.ProcessEnv = { OPENCODE_DISABLE_AUTOUPDATE: '0', HOME: '/h' };
    const env = buildChildEnv(input);
    env.HOME = '/changed';
    assert.deepEqual(input, { OPENCODE_DISABLE_AUTOUPDATE: '0', HOME: '/h' });
    assert.equal(OFFLINE_DEFAULTS.OPENCODE_DISABLE_AUTOUPDATE, '1');
  });
});
