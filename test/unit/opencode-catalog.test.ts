// The catalog of what opencode has (providers, models, agents) and the check a message goes through
// before its turn: parsers fed with output captured from the real opencode 1.18.33 (trimmed), the
// "no provider configured" rule, and the error each refusal gives.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  buildCatalog,
  checkTurnOptions,
  configModelOf,
  parseAgentListOutput,
  parseAgents,
  parseConfigProviders,
  parseModelsOutput,
  type OpencodeCatalog,
} from '../../src/manager/catalog/catalog.js';
import { OcpmError } from '../../src/errors/errors.js';
import { modelNotFound, runArgs } from '../../src/manager/per-message/per-message-turn.js';

// `opencode models` with the stub provider in OPENCODE_CONFIG_CONTENT (verbatim).
const MODELS_OUTPUT = `opencode/big-pickle
opencode/ling-3.0-flash-fin-free
opencode/longcat-2.5-preview-free
opencode/mimo-v2.6-flash-free
opencode/muse-spark-1.3-contributor-free
opencode/nemotron-3-ultra-free
opencode/nemotron-3.5-lightning-free
opencode/space-bunny-free
stub/stub-model

`;

// `opencode agent list` (first lines; each agent's rules are indented JSON).
const AGENT_LIST_OUTPUT = `build (primary)
  [
  {
    "permission": "*",
    "action": "allow",
    "pattern": "*"
  }
]
compaction (primary)
  [
  {
    "permission": "*",
    "action": "deny",
    "pattern": "*"
  }
]
explore (subagent)
  []
general (subagent)
  []
plan (primary)
  []
`;

// GET /config/providers?directory=WS, model objects trimmed to their id.
const CONFIG_PROVIDERS_STUB = {
  providers: [
    {
      id: 'opencode',
      name: 'OpenCode Zen',
      source: 'custom',
      env: ['OPENCODE_API_KEY'],
      options: { apiKey: 'public' },
      models: { 'big-pickle': { id: 'big-pickle' }, 'space-bunny-free': { id: 'space-bunny-free' } },
    },
    {
      id: 'stub',
      name: 'Stub',
      source: 'config',
      env: [],
      options: { baseURL: 'http://127.0.0.1:42559/v1', apiKey: 'x' },
      models: { 'stub-model': { id: 'stub-model' } },
    },
  ],
  default: { opencode: 'big-pickle', stub: 'stub-model' },
};
// The same with nothing configured (no OPENCODE_CONFIG_CONTENT, no key variable).
const CONFIG_PROVIDERS_NONE = { providers: [CONFIG_PROVIDERS_STUB.providers[0]], default: { opencode: 'big-pickle' } };
// With ANTHROPIC_API_KEY=x only.
const CONFIG_PROVIDERS_ENV_KEY = {
  providers: [
    { id: 'anthropic', name: 'Anthropic', source: 'env', env: ['ANTHROPIC_API_KEY'], options: {}, models: { 'claude-sonnet-4-6': {}, 'claude-haiku-4-5': {} } },
    CONFIG_PROVIDERS_STUB.providers[0],
  ],
  default: { anthropic: 'claude-sonnet-4-6', opencode: 'big-pickle' },
};
// GET /agent (trimmed to the fields read).
const AGENTS_ANSWER = [
  { name: 'build', mode: 'primary', native: true },
  { name: 'compaction', mode: 'primary', native: true, hidden: true },
  { name: 'explore', mode: 'subagent', native: true },
  { name: 'plan', mode: 'primary', native: true },
];

function serverCatalog(providers: unknown, configModel: string | undefined): OpencodeCatalog {
  const parsed = parseConfigProviders(providers);
  return buildCatalog({
    models: parsed.models,
    agents: parseAgents(AGENTS_ANSWER),
    configModel,
    providerDefaults: parsed.defaults,
    fallbackHasKey: parsed.fallbackHasKey,
  });
}

function refusal(catalog: OpencodeCatalog | undefined, options: { model?: string; agent?: string }): OcpmError | undefined {
  try {
    checkTurnOptions(catalog, options);
    return undefined;
  } catch (error) {
    assert.ok(error instanceof OcpmError);
    return error;
  }
}

describe('catalog parsers (real 1.18.33 output)', () => {
  it('reads `opencode models` and `opencode agent list`', () => {
    assert.deepEqual(parseModelsOutput(MODELS_OUTPUT).slice(-2), ['opencode/space-bunny-free', 'stub/stub-model']);
    assert.equal(parseModelsOutput(MODELS_OUTPUT).length, 9);
    assert.deepEqual(parseAgentListOutput(AGENT_LIST_OUTPUT), ['build', 'compaction', 'explore', 'general', 'plan']);
    assert.equal(configModelOf({ model: 'stub/stub-model', provider: {} }), 'stub/stub-model');
    assert.equal(configModelOf({ agent: {} }), undefined);
  });

  it('server mode: the stub provider is configured, its model the default', () => {
    const catalog = serverCatalog(CONFIG_PROVIDERS_STUB, 'stub/stub-model');
    assert.deepEqual(catalog.providers, ['stub']);
    assert.equal(catalog.defaultModel, 'stub/stub-model');
    assert.equal(catalog.configured, true);
    assert.ok(catalog.models.includes('opencode/big-pickle'));
  });

  it('only the keyless opencode cloud fallback means no provider configured', () => {
    const catalog = serverCatalog(CONFIG_PROVIDERS_NONE, undefined);
    assert.deepEqual(catalog.providers, []);
    assert.equal(catalog.defaultModel, null);
    assert.equal(catalog.configured, false);
    // Naming one of its models in the config opts into it.
    assert.equal(serverCatalog(CONFIG_PROVIDERS_NONE, 'opencode/big-pickle').configured, true);
  });

  it('a provider key variable alone configures that provider; its default model comes from `default`', () => {
    const catalog = serverCatalog(CONFIG_PROVIDERS_ENV_KEY, undefined);
    assert.deepEqual(catalog.providers, ['anthropic']);
    assert.equal(catalog.defaultModel, 'anthropic/claude-sonnet-4-6');
  });

  it('per-message: the same rules from the listing commands', () => {
    const models = parseModelsOutput(MODELS_OUTPUT);
    const agents = parseAgentListOutput(AGENT_LIST_OUTPUT);
    const catalog = buildCatalog({ models, agents, configModel: 'stub/stub-model', fallbackHasKey: false });
    assert.deepEqual(catalog.providers, ['stub']);
    const none = buildCatalog({ models: models.filter((m) => m.startsWith('opencode/')), agents, configModel: undefined, fallbackHasKey: false });
    assert.equal(none.configured, false);
    const keyed = buildCatalog({ models: models.filter((m) => m.startsWith('opencode/')), agents, configModel: undefined, fallbackHasKey: true });
    assert.deepEqual(keyed.providers, ['opencode']);
  });

  it('rejects answers that are not catalogs', () => {
    assert.throws(() => parseConfigProviders('<html>'));
    assert.throws(() => parseAgents({}));
  });
});

describe('checkTurnOptions', () => {
  const catalog = serverCatalog(CONFIG_PROVIDERS_STUB, 'stub/stub-model');

  it('lets known models and agents through, and everything when the catalog is unknown', () => {
    assert.equal(refusal(catalog, {}), undefined);
    assert.equal(refusal(catalog, { model: 'stub/stub-model', agent: 'plan' }), undefined);
    assert.equal(refusal(undefined, { model: 'nosuch/model', agent: 'nosuch' }), undefined);
  });

  it('an unknown model is invalid_model naming what opencode knows', () => {
    const error = refusal(catalog, { model: 'nosuch/model' });
    assert.equal(error?.code, 'invalid_model');
    assert.equal(error?.message, 'Model not found: nosuch/model. Known models: stub/stub-model');
    assert.match(refusal(catalog, { model: 'stub/other' })?.message ?? '', /Known models: stub\/stub-model$/);
  });

  it('an unknown agent is invalid_agent', () => {
    const error = refusal(catalog, { agent: 'nosuch' });
    assert.equal(error?.code, 'invalid_agent');
    assert.equal(error?.message, 'Agent not found: nosuch. Known agents: build, compaction, explore, plan');
  });

  it('no provider configured is no_provider, saying how to configure one', () => {
    const error = refusal(serverCatalog(CONFIG_PROVIDERS_NONE, undefined), {});
    assert.equal(error?.code, 'no_provider');
    assert.match(error?.message ?? '', /OPENCODE_CONFIG_CONTENT/);
    assert.match(error?.message ?? '', /docs\/configuration\.md/);
  });
});

describe('per-message model errors', () => {
  it('runs print warnings to stderr, after the arguments tests know', () => {
    const args = runArgs({ id: 's', workspace: '/w', opencodeSessionId: undefined }, 'a/b', undefined);
    assert.deepEqual(args.slice(-2), ['--print-logs', '--log-level=WARN']);
  });

  it("finds opencode's reason in its stderr log line", () => {
    const line =
      'timestamp=2026-12-02T14:47:46.206Z level=ERROR run=b87785b7 message=failed ref=err_62969f2e error="ProviderModelNotFoundError: Model not found: nosuch/model." cause="ProviderModelNotFoundError: Model not found: nosuch/model.\\n    at <anonymous> (/$bunfs/root/chunk-dn9bw1yz.js:439:94416)"';
    assert.equal(modelNotFound([line]), 'Model not found: nosuch/model.');
    const suggestion = 'level=ERROR error="ProviderModelNotFoundError: Model not found: nope/nope. Did you mean: standardcompute?" cause="…"';
    assert.equal(modelNotFound([suggestion]), 'Model not found: nope/nope. Did you mean: standardcompute?');
    assert.equal(modelNotFound(['level=WARN something else']), undefined);
  });
});
