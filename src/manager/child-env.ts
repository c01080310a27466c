// The environment an opencode child gets: an allow-list of what OpenCode needs (home, path, locale,
// proxies, provider credentials, OPENCODE_* settings), never the service's own secrets, plus the
// settings that keep opencode offline and quiet unless the operator set them otherwise.

/** Proxies and CA certificates: every process that reaches the network needs them. */
export const NETWORK_VARIABLES = [
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
] as const;

/** Exact names passed through. */
const ALLOWED_NAMES = new Set([
  'HOME',
  'PATH',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LANGUAGE',
  'TZ',
  'TERM',
  'COLORTERM',
  ...NETWORK_VARIABLES,
  'GITHUB_TOKEN',
  'GH_TOKEN',
]);

/** Prefixes passed through: locale, XDG dirs, opencode's settings, the providers opencode speaks to. */
const ALLOWED_PREFIXES = [
  'LC_',
  'XDG_',
  'OPENCODE_',
  'ANTHROPIC_',
  'OPENAI_',
  'AZURE_',
  'AWS_',
  'GOOGLE_',
  'GEMINI_',
  'VERTEX_',
  'OPENROUTER_',
  'GROQ_',
  'MISTRAL_',
  'DEEPSEEK_',
  'XAI_',
  'TOGETHER_',
  'FIREWORKS_',
  'CEREBRAS_',
  'OLLAMA_',
  'GIT_',
];

/** Provider keys that follow the common `<PROVIDER>_API_KEY` convention. */
const ALLOWED_SUFFIXES = ['_API_KEY'];

/** Never passed, whatever an allow-list says: the service's own settings and tokens. */
const DENIED_PREFIXES = ['OCPM_'];

/** Keep opencode from reaching the network on its own (facts doc); operators may override each. */
export const OFFLINE_DEFAULTS: Readonly<Record<string, string>> = {
  OPENCODE_DISABLE_AUTOUPDATE: '1',
  OPENCODE_DISABLE_MODELS_FETCH: '1',
  OPENCODE_DISABLE_SHARE: '1',
  OPENCODE_DISABLE_LSP_DOWNLOAD: '1',
  OPENCODE_DISABLE_DEFAULT_PLUGINS: '1',
};

function matchesExtra(name: string, extra: readonly string[]): boolean {
  return extra.some((rule) => (rule.endsWith('*') ? name.startsWith(rule.slice(0, -1)) : name === rule));
}

export function isPassedToChild(name: string, extraAllowed: readonly string[] = []): boolean {
  if (DENIED_PREFIXES.some((prefix) => name.startsWith(prefix))) return false;
  return (
    ALLOWED_NAMES.has(name) ||
    ALLOWED_PREFIXES.some((prefix) => name.startsWith(prefix)) ||
    ALLOWED_SUFFIXES.some((suffix) => name.endsWith(suffix)) ||
    matchesExtra(name, extraAllowed)
  );
}

export function buildChildEnv(source: NodeJS.ProcessEnv, extraAllowed: readonly string[] = []): Record<string, string> {
  const env: Record<string, string> = { ...OFFLINE_DEFAULTS };
  for (const [name, value] of Object.entries(source)) {
    if (value !== undefined && isPassedToChild(name, extraAllowed)) env[name] = value;
  }
  return env;
}
