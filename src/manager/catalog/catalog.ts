// What opencode knows about models and agents, read once at boot (server API or listing commands),
// and the check a message's `model` and `agent` go through before its turn starts. opencode 1.18.33
// answers an unknown model with a generic 500 ("Unexpected server error") and keeps that model on the
// session, so later messages fail too; an unknown `--agent` in `opencode run` falls back silently.
// Checking first means the bad value never reaches opencode.
import { OcpmError } from '../../errors/errors.js';
import type { ModelPrice } from '../../gateway/model-ledger.js';
import { isRecord } from '../../util/guards.js';

/** What the catalog says of one model: its price (USD per million tokens) and output limit. */
export interface ModelCatalogTerms {
  readonly price?: ModelPrice;
  readonly outputLimit?: number;
}

export interface OpencodeCatalog {
  /** Providers that can serve a turn (opencode's keyless `opencode` cloud fallback is left out). */
  readonly providers: string[];
  /** Every `provider/model` opencode knows, the fallback's included. */
  readonly models: string[];
  /** The model a message without `model` uses, when opencode says which. */
  readonly defaultModel: string | null;
  readonly agents: string[];
  /** False when no provider is configured: opencode would fall back to its cloud and fail slowly offline. */
  readonly configured: boolean;
  /** Price and output limit by `provider/model`, where opencode's catalog has them (the gateway's accounting). */
  readonly terms: Readonly<Record<string, ModelCatalogTerms>>;
}

/**
 * opencode's built-in cloud provider. Without OPENCODE_API_KEY it is listed with the key `public`
 * (source `custom`) even when nothing is configured: its free models need the internet, and offline a
 * turn on them fails only after ~72 s of retries.
 */
export const FALLBACK_PROVIDER = 'opencode';

export interface TurnOptions {
  readonly model?: string | undefined;
  readonly agent?: string | undefined;
}

function list(values: readonly string[], max = 20): string {
  if (values.length === 0) return 'none';
  return values.length <= max ? values.join(', ') : `${values.slice(0, max).join(', ')} and ${values.length - max} more`;
}

export const NO_PROVIDER_HINT =
  'configure one with a provider key variable (e.g. ANTHROPIC_API_KEY) and the model in OPENCODE_CONFIG_CONTENT, or a provider of your own in OPENCODE_CONFIG_CONTENT (docs/configuration.md, "Model providers")';

/** Throws invalid_model, invalid_agent or no_provider; an undefined catalog (not discovered) never refuses. */
export function checkTurnOptions(catalog: OpencodeCatalog | undefined, options: TurnOptions): void {
  if (catalog === undefined) return;
  if (!catalog.configured) throw new OcpmError('no_provider', `opencode has no model provider configured: ${NO_PROVIDER_HINT}`);
  const { model, agent } = options;
  if (model !== undefined && !catalog.models.includes(model)) {
    const provider = model.split('/')[0] ?? '';
    const sameProvider = catalog.models.filter((known) => known.startsWith(`${provider}/`));
    const known = sameProvider.length > 0 ? sameProvider : catalog.models.filter((m) => !m.startsWith(`${FALLBACK_PROVIDER}/`));
    throw new OcpmError('invalid_model', `Model not found: ${model}. Known models: ${list(known)}`);
  }
  if (agent !== undefined && !catalog.agents.includes(agent)) {
    throw new OcpmError('invalid_agent', `Agent not found: ${agent}. Known agents: ${list(catalog.agents)}`);
  }
}

/** Builds the catalog from what opencode listed; `apiKeyOf` tells the keyless fallback apart (server mode). */
export function buildCatalog(input: {
  models: readonly string[];
  agents: readonly string[];
  /** opencode's config `model` (OPENCODE_CONFIG_CONTENT, a config file). */
  configModel: string | undefined;
  /** Server mode: `default` of GET /config/providers (provider -> model id). */
  providerDefaults?: Readonly<Record<string, string>>;
  /** Whether the fallback provider has a real key (OPENCODE_API_KEY, or not listed with the key `public`). */
  fallbackHasKey: boolean;
  terms?: Readonly<Record<string, ModelCatalogTerms>>;
}): OpencodeCatalog {
  const all = [...new Set(input.models.map((model) => model.split('/')[0] ?? '').filter((p) => p !== ''))];
  const fallbackUsable = input.fallbackHasKey || (input.configModel?.startsWith(`${FALLBACK_PROVIDER}/`) ?? false);
  const providers = all.filter((p) => p !== FALLBACK_PROVIDER || fallbackUsable);
  const firstProvider = providers[0];
  const providerDefault = firstProvider === undefined ? undefined : input.providerDefaults?.[firstProvider];
  const defaultModel = input.configModel ?? (providerDefault === undefined ? null : `${firstProvider}/${providerDefault}`);
  return {
    providers,
    models: [...new Set(input.models)],
    defaultModel: providers.length === 0 ? null : defaultModel,
    agents: [...new Set(input.agents)],
    configured: providers.length > 0,
    terms: input.terms ?? {},
  };
}

function nonNegative(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** A model object of opencode's catalog: `cost: { input, output, cache: { read, write } }`, `limit: { output }`. */
export function termsOfModel(model: unknown): ModelCatalogTerms {
  if (!isRecord(model)) return {};
  const cost = isRecord(model.cost) ? model.cost : undefined;
  const cache = cost !== undefined && isRecord(cost.cache) ? cost.cache : {};
  const input = nonNegative(cost?.input);
  const output = nonNegative(cost?.output);
  const price =
    input === undefined && output === undefined
      ? undefined
      : {
          input: input ?? 0,
          output: output ?? 0,
          cacheRead: nonNegative(cache.read ?? cost?.cache_read) ?? 0,
          cacheWrite: nonNegative(cache.write ?? cost?.cache_write) ?? 0,
        };
  const limit = isRecord(model.limit) ? nonNegative(model.limit.output) : undefined;
  return { ...(price === undefined ? {} : { price }), ...(limit === undefined || limit === 0 ? {} : { outputLimit: limit }) };
}

/**
 * `opencode models --verbose`: each `provider/model` line is followed by the model as indented JSON
 * (plain `opencode models` prints the lines alone). Answers the models and their terms.
 */
export function parseVerboseModelsOutput(stdout: string): { models: string[]; terms: Record<string, ModelCatalogTerms> } {
  const models: string[] = [];
  const terms: Record<string, ModelCatalogTerms> = {};
  let current: string | undefined;
  let block: string[] = [];
  const close = (): void => {
    if (current !== undefined && block.length > 0) {
      try {
        terms[current] = termsOfModel(JSON.parse(block.join('\n')));
      } catch {
        // A block that is not JSON leaves the model without terms.
      }
    }
    block = [];
  };
  for (const raw of stdout.split('\n')) {
    const line = raw.trimEnd();
    if (/^[^\s/{}"]+\/\S+$/.test(line)) {
      close();
      current = line;
      models.push(line);
    } else if (current !== undefined && line !== '') block.push(line);
  }
  close();
  return { models, terms };
}

/** `opencode models`: one `provider/model` per line. */
export function parseModelsOutput(stdout: string): string[] {
  return stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => /^[^\s/]+\/\S+$/.test(line));
}

/** `opencode agent list`: `name (mode)` lines, each followed by its permission rules as indented JSON. */
export function parseAgentListOutput(stdout: string): string[] {
  const agents: string[] = [];
  for (const line of stdout.split('\n')) {
    const match = /^(\S+) \((primary|subagent|all)\)\s*$/.exec(line);
    if (match?.[1] !== undefined) agents.push(match[1]);
  }
  return agents;
}

/** `opencode debug config` (the resolved config, JSON) or GET /config: its `model`. */
export function configModelOf(config: unknown): string | undefined {
  return isRecord(config) && typeof config.model === 'string' && config.model !== '' ? config.model : undefined;
}

/** GET /config/providers: `{ providers: [{ id, source, options, models: { id: … } }], default: { provider: model } }`. */
export function parseConfigProviders(body: unknown): {
  models: string[];
  defaults: Record<string, string>;
  fallbackHasKey: boolean;
  terms: Record<string, ModelCatalogTerms>;
} {
  const models: string[] = [];
  const terms: Record<string, ModelCatalogTerms> = {};
  let fallbackHasKey = false;
  const providers = isRecord(body) && Array.isArray(body.providers) ? body.providers.filter(isRecord) : [];
  for (const provider of providers) {
    if (typeof provider.id !== 'string') continue;
    for (const [model, info] of Object.entries(isRecord(provider.models) ? provider.models : {})) {
      models.push(`${provider.id}/${model}`);
      terms[`${provider.id}/${model}`] = termsOfModel(info);
    }
    const options = isRecord(provider.options) ? provider.options : {};
    if (provider.id === FALLBACK_PROVIDER && options.apiKey !== 'public') fallbackHasKey = true;
  }
  const defaults: Record<string, string> = {};
  const rawDefaults = isRecord(body) && isRecord(body.default) ? body.default : {};
  for (const [provider, model] of Object.entries(rawDefaults)) if (typeof model === 'string') defaults[provider] = model;
  if (providers.length === 0) throw new Error('GET /config/providers answered no providers list');
  return { models, defaults, fallbackHasKey, terms };
}

/** GET /agent: `[{ name, mode, native, hidden?, … }]`. */
export function parseAgents(body: unknown): string[] {
  if (!Array.isArray(body)) throw new Error('GET /agent answered no list');
  return body.filter(isRecord).flatMap((agent) => (typeof agent.name === 'string' ? [agent.name] : []));
}
