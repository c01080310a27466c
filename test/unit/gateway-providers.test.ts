// Which providers the model gateway stands in for: the operator's opencode config (its files and
// variables merged in opencode's order, `{env:…}` / `{file:…}` resolved), OPENCODE_AUTH_CONTENT and
// the key variables of opencode's built-in providers; the providers it refuses; the configuration
// opencode children get instead (no real key, no real URL); and the variables kept from children.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ModelGateway, type GatewaySettings } from '../../src/gateway/model-gateway.js';
import { OperatorConfigError, parseConfigText, readOperatorConfig, referencedVariables, stripJsonc, substitute } from '../../src/gateway/operator-config.js';
import { gatewayConfig, resolveProviders } from '../../src/gateway/upstream-providers.js';

const GATEWAY_URL = 'http://127.0.0.1:4999';
const VIRTUAL_KEY = 'ocpm-vk-test';

let dir: string;
before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'ocpm-gateway-providers-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** An environment with nothing of the machine's (no HOME config, no keys) unless given. */
function env(vars: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { XDG_CONFIG_HOME: path.join(dir, 'empty-config-home'), ...vars };
}

describe('stripJsonc', () => {
  it('removes line and block comments and trailing commas, and keeps comment-like text inside strings', () => {
    const text = `{
      // a comment
      "url": "https://example.test/v1", /* block
      comment */
      "note": "a \\"quoted\\" // not a comment",
      "list": [1, 2,],
    }`;
    assert.deepEqual(JSON.parse(stripJsonc(text)), { url: 'https://example.test/v1', note: 'a "quoted" // not a comment', list: [1, 2] });
  });

  it('keeps a comma followed by a closing bracket inside a string', () => {
    assert.deepEqual(JSON.parse(stripJsonc('{"prompt": "a, }"}')), { prompt: 'a, }' });
  });
});

describe('parseConfigText', () => {
  it('parses JSONC into an object', () => {
    assert.deepEqual(parseConfigText('{"model": "a/b", // c\n}', 'X'), { model: 'a/b' });
  });

  it('names the source and the position of a JSON error, never the text', () => {
    const secret = 'sk-ant-very-secret-value';
    assert.throws(
      () => parseConfigText(`{"apiKey": "${secret}" oops}`, 'OPENCODE_CONFIG_CONTENT'),
      (error: unknown) => {
        assert.ok(error instanceof OperatorConfigError);
        assert.equal(error.source, 'OPENCODE_CONFIG_CONTENT');
        assert.match(error.message, /^OPENCODE_CONFIG_CONTENT is not a valid opencode configuration: JSON error at position \d+$/);
        assert.ok(!error.message.includes(secret));
        assert.ok(!error.message.includes('oops'));
        return true;
      },
    );
  });

  it('refuses text that is not JSON, and JSON that is not an object, without quoting it', () => {
    for (const text of ['sk-secret-token', '["sk-secret-token"]', '"sk-secret-token"', 'null']) {
      assert.throws(
        () => parseConfigText(text, 'SRC'),
        (error: unknown) =>
          error instanceof OperatorConfigError && error.message.startsWith('SRC is not a valid') && !error.message.includes('sk-secret-token'),
        text,
      );
    }
  });
});

describe('readOperatorConfig', () => {
  it('merges the global config file, OPENCODE_CONFIG and OPENCODE_CONFIG_CONTENT, later sources winning key by key', () => {
    const configHome = path.join(dir, 'xdg');
    mkdirSync(path.join(configHome, 'opencode'), { recursive: true });
    writeFileSync(
      path.join(configHome, 'opencode', 'opencode.jsonc'),
      `{
        // the global file
        "model": "global/model",
        "share": "disabled",
        "provider": { "one": { "options": { "baseURL": "https://global.test/v1", "timeout": 1 } } },
      }`,
    );
    const file = path.join(dir, 'operator.json');
    writeFileSync(file, JSON.stringify({ model: 'file/model', provider: { one: { options: { timeout: 2 } }, two: { npm: '@ai-sdk/openai' } } }));
    const config = readOperatorConfig(
      env({
        XDG_CONFIG_HOME: configHome,
        OPENCODE_CONFIG: file,
        OPENCODE_CONFIG_CONTENT: JSON.stringify({ model: 'content/model', provider: { two: { name: 'Two' } } }),
      }),
    );
    assert.deepEqual(config, {
      model: 'content/model',
      share: 'disabled',
      provider: {
        one: { options: { baseURL: 'https://global.test/v1', timeout: 2 } },
        two: { npm: '@ai-sdk/openai', name: 'Two' },
      },
    });
  });

  it('reads HOME/.config without XDG_CONFIG_HOME', () => {
    const home = path.join(dir, 'home');
    mkdirSync(path.join(home, '.config', 'opencode'), { recursive: true });
    writeFileSync(path.join(home, '.config', 'opencode', 'opencode.json'), '{"model": "home/model"}');
    assert.deepEqual(readOperatorConfig({ HOME: home }), { model: 'home/model' });
  });

  it('is empty with no source, and refuses an OPENCODE_CONFIG that does not exist', () => {
    assert.deepEqual(readOperatorConfig(env()), {});
    assert.deepEqual(readOperatorConfig(env({ OPENCODE_CONFIG: '', OPENCODE_CONFIG_CONTENT: '  ' })), {});
    assert.throws(() => readOperatorConfig(env({ OPENCODE_CONFIG: path.join(dir, 'missing.json') })), OperatorConfigError);
  });

  it('names the source of a bad OPENCODE_CONFIG_CONTENT', () => {
    assert.throws(() => readOperatorConfig(env({ OPENCODE_CONFIG_CONTENT: '{"apiKey": "sk-x",,}' })), /^Error: OPENCODE_CONFIG_CONTENT is not a valid/);
  });
});

describe('substitute and referencedVariables', () => {
  it('resolves {env:NAME} (a missing variable gives an empty string)', () => {
    assert.equal(substitute('Bearer {env:TOKEN}-{env:MISSING}!', { TOKEN: 't0k' }), 'Bearer t0k-!');
  });

  it('resolves {file:path} to the trimmed file text, and ~/ under HOME', () => {
    const keyFile = path.join(dir, 'key.txt');
    writeFileSync(keyFile, '  file-key\n');
    assert.equal(substitute(`{file:${keyFile}}`, {}), 'file-key');
    assert.equal(substitute('{file:~/key.txt}', { HOME: dir }), 'file-key');
    assert.equal(substitute(`{file:${path.join(dir, 'none.txt')}}`, {}), '');
  });

  it('leaves values that are not strings alone', () => {
    assert.equal(substitute(42, {}), 42);
    assert.equal(substitute(undefined, {}), undefined);
  });

  it('lists the variables a config refers to', () => {
    const config = { provider: { a: { options: { apiKey: '{env:A_KEY}', headers: { 'x-team': '{env:TEAM_TOKEN}' } } } } };
    assert.deepEqual(referencedVariables(config), ['A_KEY', 'TEAM_TOKEN']);
  });
});

describe('resolveProviders', () => {
  it('takes ANTHROPIC_API_KEY for the anthropic provider at its catalog URL', () => {
    const { upstreams, refused } = resolveProviders(env({ ANTHROPIC_API_KEY: 'sk-ant-real' }), {});
    assert.deepEqual(refused, []);
    assert.deepEqual(upstreams.get('anthropic'), {
      id: 'anthropic',
      baseURL: 'https://api.anthropic.com/v1',
      apiKey: 'sk-ant-real',
      headers: {},
      keySource: 'ANTHROPIC_API_KEY',
    });
    assert.deepEqual([...upstreams.keys()], ['anthropic']);
  });

  it('takes OPENAI_API_KEY for openai', () => {
    const openai = resolveProviders(env({ OPENAI_API_KEY: 'sk-openai' }), {}).upstreams.get('openai');
    assert.equal(openai?.baseURL, 'https://api.openai.com/v1');
    assert.equal(openai?.apiKey, 'sk-openai');
    assert.equal(openai?.keySource, 'OPENAI_API_KEY');
  });

  it('takes DEEPSEEK_API_KEY for deepseek at the URL of the catalog table', () => {
    const deepseek = resolveProviders(env({ DEEPSEEK_API_KEY: 'sk-ds' }), {}).upstreams.get('deepseek');
    assert.equal(deepseek?.baseURL, 'https://api.deepseek.com');
    assert.equal(deepseek?.apiKey, 'sk-ds');
  });

  it('ignores an empty key variable', () => {
    assert.equal(resolveProviders(env({ OPENAI_API_KEY: '' }), {}).upstreams.size, 0);
  });

  it('resolves a custom OpenAI-compatible provider of the config, its key from {env:…}', () => {
    const config = {
      provider: {
        mine: {
          npm: '@ai-sdk/openai-compatible',
          options: { baseURL: 'https://llm.internal.test/v1/', apiKey: '{env:MY_KEY}', headers: { 'X-Team': '{env:TEAM}' } },
          models: { m1: {} },
        },
      },
    };
    const resolved = resolveProviders(env({ MY_KEY: 'my-real-key', TEAM: 'blue' }), config);
    assert.deepEqual(resolved.upstreams.get('mine'), {
      id: 'mine',
      baseURL: 'https://llm.internal.test/v1',
      apiKey: 'my-real-key',
      headers: { 'x-team': 'blue' },
      keySource: 'opencode config',
    });
    // MY_KEY is no *_API_KEY nor a catalog variable: it is kept from children by the config's reference only.
    assert.equal(resolved.credentialVariables.has('MY_KEY'), false);
    assert.deepEqual(referencedVariables(config), ['MY_KEY', 'TEAM']);
  });

  it('takes an api key of OPENCODE_AUTH_CONTENT', () => {
    const openai = resolveProviders(env({ OPENCODE_AUTH_CONTENT: JSON.stringify({ openai: { type: 'api', key: 'k' } }) }), {}).upstreams.get('openai');
    assert.equal(openai?.apiKey, 'k');
    assert.equal(openai?.keySource, 'OPENCODE_AUTH_CONTENT');
    assert.equal(openai?.baseURL, 'https://api.openai.com/v1');
  });

  it('prefers the config key to OPENCODE_AUTH_CONTENT and OPENCODE_AUTH_CONTENT to the variable', () => {
    const auth = JSON.stringify({ openai: { type: 'api', key: 'from-auth' } });
    assert.equal(resolveProviders(env({ OPENAI_API_KEY: 'from-env', OPENCODE_AUTH_CONTENT: auth }), {}).upstreams.get('openai')?.apiKey, 'from-auth');
    const config = { provider: { openai: { options: { apiKey: 'from-config' } } } };
    assert.equal(resolveProviders(env({ OPENAI_API_KEY: 'from-env', OPENCODE_AUTH_CONTENT: auth }), config).upstreams.get('openai')?.apiKey, 'from-config');
  });

  it('refuses a sign-in of OPENCODE_AUTH_CONTENT that is not an api key', () => {
    const resolved = resolveProviders(env({ OPENCODE_AUTH_CONTENT: JSON.stringify({ x: { type: 'oauth', refresh: 'r', access: 'a' } }) }), {});
    assert.equal(resolved.upstreams.has('x'), false);
    assert.equal(resolved.refused.length, 1);
    assert.equal(resolved.refused[0]?.id, 'x');
    assert.match(resolved.refused[0]?.reason ?? '', /oauth/);
  });

  it('refuses google (an SDK the gateway does not proxy) with a reason', () => {
    const resolved = resolveProviders(env({ GOOGLE_GENERATIVE_AI_API_KEY: 'g-key' }), {});
    assert.equal(resolved.upstreams.has('google'), false);
    assert.deepEqual(
      resolved.refused.map((r) => r.id),
      ['google'],
    );
    assert.ok((resolved.refused[0]?.reason ?? '').length > 0);
    assert.equal(resolved.credentialVariables.has('GOOGLE_GENERATIVE_AI_API_KEY'), true);
  });

  it('refuses a config provider whose npm package is not a proxied wire format', () => {
    const config = { provider: { gem: { npm: '@ai-sdk/google', options: { baseURL: 'https://gem.test/v1', apiKey: 'x' } } } };
    const resolved = resolveProviders(env(), config);
    assert.equal(resolved.upstreams.size, 0);
    assert.equal(resolved.refused[0]?.id, 'gem');
    assert.match(resolved.refused[0]?.reason ?? '', /@ai-sdk\/google/);
  });

  it('refuses a custom provider without an upstream URL', () => {
    const resolved = resolveProviders(env(), { provider: { nourl: { npm: '@ai-sdk/openai-compatible', options: { apiKey: 'x' } } } });
    assert.deepEqual(
      resolved.refused.map((r) => r.id),
      ['nourl'],
    );
  });

  it('never sends a Cloudflare token to api.anthropic.com (cloudflare-ai-gateway is reached at a URL built from its account and gateway ids)', () => {
    const resolved = resolveProviders(env({ CLOUDFLARE_API_TOKEN: 'cf-token', CLOUDFLARE_ACCOUNT_ID: 'acct', CLOUDFLARE_GATEWAY_ID: 'gw' }), {});
    const upstream = resolved.upstreams.get('cloudflare-ai-gateway');
    assert.ok(upstream === undefined || !upstream.baseURL.startsWith('https://api.anthropic.com'), `the token would go to ${upstream?.baseURL}`);
  });

  it('never takes a variable that is not a key (PRIVATEMODE_ENDPOINT) as the key', () => {
    const upstream = resolveProviders(env({ PRIVATEMODE_ENDPOINT: 'http://privatemode.internal:8080/v1' }), {}).upstreams.get('privatemode-ai');
    assert.notEqual(upstream?.apiKey, 'http://privatemode.internal:8080/v1');
  });

  it('counts every catalog variable, every *_API_KEY and the config variables as credentials', () => {
    const { credentialVariables } = resolveProviders(env({ SOMETHING_API_KEY: 'x' }), {});
    for (const name of [
      'ANTHROPIC_API_KEY',
      'OPENAI_API_KEY',
      'DEEPSEEK_API_KEY',
      'SOMETHING_API_KEY',
      'OPENCODE_AUTH_CONTENT',
      'OPENCODE_CONFIG',
      'OPENCODE_CONFIG_CONTENT',
    ]) {
      assert.ok(credentialVariables.has(name), name);
    }
    assert.equal(credentialVariables.has('PATH'), false);
  });
});

describe('gatewayConfig', () => {
  const realKeys = ['sk-ant-real', 'my-real-key', 'sk-openai-real', 'g-key', 'header-secret'];
  const realURLs = ['https://api.anthropic.com', 'https://llm.internal.test', 'https://api.openai.com', 'https://gem.test'];
  const config = {
    $schema: 'https://opencode.ai/config.json',
    model: 'mine/m1',
    permission: { bash: 'ask' },
    agent: { review: { model: 'anthropic/claude', prompt: 'Review.' } },
    provider: {
      mine: {
        npm: '@ai-sdk/openai-compatible',
        name: 'Mine',
        options: { baseURL: 'https://llm.internal.test/v1', apiKey: '{env:MY_KEY}', headers: { authorization: 'Bearer header-secret' }, timeout: 60000 },
        models: { m1: { name: 'M1' } },
      },
      gem: { npm: '@ai-sdk/google', options: { baseURL: 'https://gem.test/v1', apiKey: 'g-key' } },
    },
  };
  const vars = env({ ANTHROPIC_API_KEY: 'sk-ant-real', MY_KEY: 'my-real-key', OPENAI_API_KEY: 'sk-openai-real' });

  it('points each proxied provider at the gateway under the virtual key and drops refused ones', () => {
    const resolved = resolveProviders(vars, config);
    assert.deepEqual([...resolved.upstreams.keys()], ['anthropic', 'mine', 'openai']);
    const rewritten = gatewayConfig(config, resolved, GATEWAY_URL, VIRTUAL_KEY);
    assert.deepEqual(rewritten, {
      $schema: 'https://opencode.ai/config.json',
      model: 'mine/m1',
      permission: { bash: 'ask' },
      agent: { review: { model: 'anthropic/claude', prompt: 'Review.' } },
      provider: {
        mine: {
          npm: '@ai-sdk/openai-compatible',
          name: 'Mine',
          options: { timeout: 60000, baseURL: `${GATEWAY_URL}/mine`, apiKey: VIRTUAL_KEY },
          models: { m1: { name: 'M1' } },
        },
        anthropic: { options: { baseURL: `${GATEWAY_URL}/anthropic`, apiKey: VIRTUAL_KEY } },
        openai: { options: { baseURL: `${GATEWAY_URL}/openai`, apiKey: VIRTUAL_KEY } },
      },
    });
  });

  it('never carries a real key, a real upstream URL or a key variable reference', () => {
    const text = JSON.stringify(gatewayConfig(config, resolveProviders(vars, config), GATEWAY_URL, VIRTUAL_KEY));
    for (const secret of [...realKeys, ...realURLs, '{env:MY_KEY}']) assert.ok(!text.includes(secret), `the children's config holds ${secret}`);
    assert.ok(text.includes(VIRTUAL_KEY));
  });

  it('encodes a provider id in the gateway path', () => {
    const odd = { provider: { 'a b': { npm: '@ai-sdk/openai-compatible', options: { baseURL: 'https://odd.test/v1' } } } };
    const rewritten = gatewayConfig(odd, resolveProviders(env(), odd), GATEWAY_URL, VIRTUAL_KEY) as any;
    assert.equal(rewritten.provider['a b'].options.baseURL, `${GATEWAY_URL}/a%20b`);
  });
});

describe('ModelGateway.withoutCredentials', () => {
  const settings: GatewaySettings = {
    modelGateway: true,
    modelGatewayPort: 0,
    modelGatewayUpstream: undefined,
    modelGatewaySessionHeader: 'x-ocpm-session',
    modelGatewayTimeoutMs: 5000,
  };

  it('is not prepared when OCPM_MODEL_GATEWAY is off', () => {
    assert.equal(ModelGateway.prepare(env({ OPENAI_API_KEY: 'x' }), { ...settings, modelGateway: false }), undefined);
  });

  it('drops every credential and config variable, and keeps the rest', () => {
    const vars: Record<string, string> = {
      PATH: '/usr/bin:/bin',
      HOME: '/home/ocpm',
      LANG: 'C.UTF-8',
      XDG_CONFIG_HOME: path.join(dir, 'empty-config-home'),
      MY_KEY: 'my-real-key',
      ANTHROPIC_API_KEY: 'sk-ant-real',
      UNRELATED_API_KEY: 'whatever',
      OPENCODE_AUTH_CONTENT: JSON.stringify({ openai: { type: 'api', key: 'k' } }),
      OPENCODE_CONFIG_CONTENT: JSON.stringify({
        provider: { mine: { npm: '@ai-sdk/openai-compatible', options: { baseURL: 'https://llm.internal.test/v1', apiKey: '{env:MY_KEY}' } } },
      }),
    };
    const gateway = ModelGateway.prepare(vars, settings);
    assert.ok(gateway !== undefined);
    assert.equal(gateway.configError, undefined);
    assert.equal(gateway.active, true);
    assert.deepEqual(gateway.status().providers.sort(), ['anthropic', 'mine', 'openai']);
    assert.deepEqual(gateway.withoutCredentials(vars), { PATH: '/usr/bin:/bin', HOME: '/home/ocpm', LANG: 'C.UTF-8', XDG_CONFIG_HOME: vars.XDG_CONFIG_HOME });
  });

  it('reports a bad OPENCODE_CONFIG_CONTENT by source and position, never its text', () => {
    const gateway = ModelGateway.prepare(env({ OPENCODE_CONFIG_CONTENT: '{"apiKey": "sk-in-bad-config" nope}', OPENAI_API_KEY: 'k' }), settings);
    assert.ok(gateway !== undefined);
    assert.match(gateway.configError ?? '', /^OPENCODE_CONFIG_CONTENT is not a valid opencode configuration/);
    assert.ok(!(gateway.configError ?? '').includes('sk-in-bad-config'));
    assert.deepEqual(gateway.status().providers, ['openai']);
  });
});
