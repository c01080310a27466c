// Which model providers the operator configured, and where each really is: its upstream base URL,
// its key and extra headers. Sources: the providers of the operator's opencode config (with
// `{env:…}` and `{file:…}` resolved), OPENCODE_AUTH_CONTENT, and the key variables of opencode's
// built-in providers (BUILTIN_PROVIDERS: the catalog's URL, else the SDK's default). A provider the
// gateway cannot stand in for is refused: its credentials go nowhere.
import { isRecord } from '../util/guards.js';
import { BUILTIN_PROVIDERS, UNPROXIED_PROVIDERS } from './builtin-providers.js';
import { parseConfigText, substitute, type JsonObject } from './operator-config.js';

export interface UpstreamProvider {
  readonly id: string;
  /** Without a trailing slash; the caller's path below the provider is appended. */
  readonly baseURL: string;
  /** '' for a provider that takes no key (a local server). */
  readonly apiKey: string;
  /** The operator's `options.headers`, sent upstream only. */
  readonly headers: Readonly<Record<string, string>>;
  /** Where the key came from (for the boot log; never the key). */
  readonly keySource: string;
}

export interface RefusedProvider {
  readonly id: string;
  readonly reason: string;
}

export interface ResolvedProviders {
  readonly upstreams: ReadonlyMap<string, UpstreamProvider>;
  readonly refused: readonly RefusedProvider[];
  /** Every variable that may carry a provider credential: kept out of opencode children. */
  readonly credentialVariables: ReadonlySet<string>;
}

/** SDK packages whose calls the gateway can proxy (the OpenAI-compatible family and Anthropic's). */
export const PROXIED_SDKS = new Set([
  '@ai-sdk/openai-compatible',
  '@ai-sdk/openai',
  '@ai-sdk/anthropic',
  '@ai-sdk/groq',
  '@ai-sdk/xai',
  '@ai-sdk/cerebras',
  '@ai-sdk/togetherai',
  '@ai-sdk/deepinfra',
  '@ai-sdk/mistral',
  '@openrouter/ai-sdk-provider',
]);

const BUILTIN = new Map(BUILTIN_PROVIDERS.map(([id, env, , baseURL]) => [id, { env, baseURL }]));
const UNPROXIED = new Map(UNPROXIED_PROVIDERS.map(([id, env]) => [id, env]));

function firstSet(env: NodeJS.ProcessEnv, names: readonly string[]): { name: string; value: string } | undefined {
  for (const name of names) {
    const value = env[name];
    if (value !== undefined && value !== '') return { name, value };
  }
  return undefined;
}

/** OPENCODE_AUTH_CONTENT: `{ provider: { type: "api", key } }` (other sign-ins cannot be proxied). */
function readAuth(env: NodeJS.ProcessEnv): Map<string, { key?: string; type: string }> {
  const auth = new Map<string, { key?: string; type: string }>();
  const text = env.OPENCODE_AUTH_CONTENT;
  if (text === undefined || text.trim() === '') return auth;
  for (const [id, entry] of Object.entries(parseConfigText(text, 'OPENCODE_AUTH_CONTENT'))) {
    if (!isRecord(entry)) continue;
    const type = typeof entry.type === 'string' ? entry.type : 'unknown';
    auth.set(id, type === 'api' && typeof entry.key === 'string' ? { type, key: entry.key } : { type });
  }
  return auth;
}

function stringHeaders(value: unknown, env: NodeJS.ProcessEnv): Record<string, string> {
  const headers: Record<string, string> = {};
  if (!isRecord(value)) return headers;
  for (const [name, header] of Object.entries(value)) {
    const resolved = substitute(header, env);
    if (typeof resolved === 'string') headers[name.toLowerCase()] = resolved;
  }
  return headers;
}

export function resolveProviders(env: NodeJS.ProcessEnv, config: JsonObject): ResolvedProviders {
  const upstreams = new Map<string, UpstreamProvider>();
  const refused: RefusedProvider[] = [];
  const credentialVariables = new Set<string>(['OPENCODE_AUTH_CONTENT', 'OPENCODE_CONFIG', 'OPENCODE_CONFIG_CONTENT']);
  for (const builtin of BUILTIN.values()) for (const name of builtin.env) credentialVariables.add(name);
  for (const names of UNPROXIED.values()) for (const name of names) credentialVariables.add(name);
  for (const name of Object.keys(env)) if (name.endsWith('_API_KEY')) credentialVariables.add(name);

  const auth = readAuth(env);
  const configured = isRecord(config.provider) ? config.provider : {};
  const ids = new Set<string>([...Object.keys(configured), ...auth.keys()]);
  for (const [id, builtin] of BUILTIN) if (firstSet(env, builtin.env) !== undefined) ids.add(id);
  for (const [id, names] of UNPROXIED) if (firstSet(env, names) !== undefined) ids.add(id);

  for (const id of [...ids].sort()) {
    const entry = isRecord(configured[id]) ? configured[id] : {};
    const options = isRecord(entry.options) ? entry.options : {};
    const builtin = BUILTIN.get(id);
    const npm = typeof entry.npm === 'string' ? entry.npm : undefined;
    if (npm !== undefined && !PROXIED_SDKS.has(npm)) {
      refused.push({ id, reason: `its SDK ${npm} is not a wire format the model gateway proxies (OpenAI-compatible or Anthropic)` });
      continue;
    }
    if (UNPROXIED.has(id) && npm === undefined) {
      refused.push({ id, reason: 'opencode reaches it through an SDK or sign-in the model gateway does not proxy' });
      continue;
    }
    const authEntry = auth.get(id);
    if (authEntry !== undefined && authEntry.key === undefined) {
      refused.push({ id, reason: `OPENCODE_AUTH_CONTENT signs it in with "${authEntry.type}", which the model gateway cannot hold for it (use an API key)` });
      continue;
    }
    const configuredURL = substitute(options.baseURL, env);
    const baseURL = typeof configuredURL === 'string' && configuredURL !== '' ? configuredURL : builtin?.baseURL;
    if (baseURL === undefined || !/^https?:\/\//.test(baseURL)) {
      refused.push({ id, reason: 'no upstream URL (set options.baseURL in its opencode config)' });
      continue;
    }
    const configuredKey = substitute(options.apiKey, env);
    const envKey = builtin === undefined ? undefined : firstSet(env, builtin.env);
    const [apiKey, keySource] =
      typeof configuredKey === 'string' && configuredKey !== ''
        ? [configuredKey, 'opencode config']
        : authEntry?.key !== undefined
          ? [authEntry.key, 'OPENCODE_AUTH_CONTENT']
          : envKey !== undefined
            ? [envKey.value, envKey.name]
            : ['', 'none'];
    upstreams.set(id, { id, baseURL: baseURL.replace(/\/+$/, ''), apiKey, headers: stringHeaders(options.headers, env), keySource });
  }
  return { upstreams, refused, credentialVariables };
}

/**
 * The configuration opencode children get: the operator's, with each proxied provider's options
 * pointing at the gateway under the given key, its headers left out, and refused providers removed.
 */
export function gatewayConfig(config: JsonObject, resolved: ResolvedProviders, gatewayURL: string, key: string): JsonObject {
  const providers: JsonObject = isRecord(config.provider) ? { ...config.provider } : {};
  for (const { id } of resolved.refused) delete providers[id];
  for (const id of resolved.upstreams.keys()) {
    const entry = isRecord(providers[id]) ? providers[id] : {};
    const options: JsonObject = isRecord(entry.options) ? { ...entry.options } : {};
    for (const secret of ['headers', 'baseURL', 'apiKey']) delete options[secret];
    providers[id] = { ...entry, options: { ...options, baseURL: `${gatewayURL}/${encodeURIComponent(id)}`, apiKey: key } };
  }
  return { ...config, provider: providers };
}
