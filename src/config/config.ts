// The only module that reads process.env: parses and validates the configuration once, at boot.
import path from 'node:path';
import { z } from 'zod';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly variable: string,
    readonly expected: string,
    readonly received: string | undefined,
  ) {
    super(`Invalid ${variable}: expected ${expected}, got ${received === undefined ? 'nothing' : JSON.stringify(received)}`);
  }
}

const LOG_LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] as const;

/** One row per environment variable: parser, default, and the text the README's table shows. */
interface Setting<T> {
  readonly schema: z.ZodType<T>;
  readonly expected: string;
  readonly fallback: string | undefined;
}

const integer = (min: number, max = Number.MAX_SAFE_INTEGER): z.ZodType<number> =>
  z
    .string()
    .regex(/^\d+$/)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const boolean: z.ZodType<boolean> = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

const nonEmpty: z.ZodType<string> = z.string().min(1);

/** A comma-separated list (blanks dropped) of at least `min` items, each checked by `item`. */
const commaList = (item: z.ZodType<string, string>, min = 0): z.ZodType<string[]> =>
  z
    .string()
    .transform((value) => value.split(',').map((entry) => entry.trim()).filter((entry) => entry !== ''))
    .pipe(z.array(item).min(min));

const nameList = commaList(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*\*?$/));

/** What a bearer token may contain: printable ASCII without spaces (and, in lists, without commas). */
export const TOKEN_PATTERN = /^[\x21-\x7e]+$/;

const tokenList = commaList(z.string().regex(TOKEN_PATTERN), 1);

// Exact origins (scheme://host[:port]) or '*': CORS is closed unless this lists some.
const originList = commaList(z.string().regex(/^(\*|https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?)$/));

function setting<T>(schema: z.ZodType<T>, expected: string, fallback: string | undefined): Setting<T> {
  return { schema, expected, fallback };
}

const SETTINGS = {
  PORT: setting(integer(0, 65535), 'a port number 0-65535', '3000'),
  HOST: setting(nonEmpty, 'a host or address to bind', '0.0.0.0'),
  OCPM_OPENCODE_BIN: setting(z.string().min(1).optional(), 'a path to the opencode executable', undefined),
  OCPM_WORKSPACE_ROOT: setting(nonEmpty, 'a directory path', './workspaces'),
  OCPM_DATA_DIR: setting(nonEmpty, 'a directory path', './data'),
  OCPM_TURN_TIMEOUT_MS: setting(integer(100), 'an integer number of milliseconds >= 100', '600000'),
  OCPM_KILL_GRACE_MS: setting(integer(0, 600000), 'an integer number of milliseconds 0-600000', '5000'),
  OCPM_SESSION_IDLE_MS: setting(integer(1000), 'an integer number of milliseconds >= 1000', '1800000'),
  OCPM_ABORT_ON_DISCONNECT: setting(boolean, 'true or false', 'true'),
  OCPM_MAX_BODY_BYTES: setting(integer(1024), 'an integer number of bytes >= 1024', '1048576'),
  OCPM_MAX_MESSAGE_CHARS: setting(integer(1), 'an integer number of characters >= 1', '200000'),
  OCPM_CHILD_ENV_ALLOW: setting(nameList, 'a comma-separated list of variable names (NAME or PREFIX*)', ''),
  OCPM_STALL_TIMEOUT_MS: setting(integer(0), 'an integer number of milliseconds (0 = off)', '300000'),
  OCPM_MAX_CONCURRENT_TURNS: setting(integer(1, 1000), 'an integer 1-1000', '4'),
  OCPM_QUEUE_LIMIT: setting(integer(0, 100000), 'an integer 0-100000', '100'),
  OCPM_SESSION_QUEUE_LIMIT: setting(integer(0, 10000), 'an integer 0-10000', '8'),
  OCPM_QUEUE_TIMEOUT_MS: setting(integer(100), 'an integer number of milliseconds >= 100', '300000'),
  OCPM_DRAIN_TIMEOUT_MS: setting(integer(0), 'an integer number of milliseconds >= 0', '25000'),
  OCPM_MODE: setting(z.enum(['auto', 'server', 'per-message']), 'auto, server or per-message', 'auto'),
  OCPM_POOL_SIZE: setting(integer(1, 64).optional(), 'an integer 1-64 (default: 1; with isolation, OCPM_MAX_CONCURRENT_TURNS)', undefined),
  OCPM_SERVER_START_TIMEOUT_MS: setting(integer(1000), 'an integer number of milliseconds >= 1000', '60000'),
  OCPM_HEALTH_INTERVAL_MS: setting(integer(100), 'an integer number of milliseconds >= 100', '10000'),
  OCPM_HEALTH_TIMEOUT_MS: setting(integer(100), 'an integer number of milliseconds >= 100', '5000'),
  OCPM_HEALTH_FAILURES: setting(integer(1, 100), 'an integer 1-100', '3'),
  OCPM_MAX_RESTARTS: setting(integer(0, 1000), 'an integer 0-1000', '5'),
  OCPM_RESTART_WINDOW_MS: setting(integer(1000), 'an integer number of milliseconds >= 1000', '300000'),
  OCPM_RESTART_BACKOFF_MS: setting(integer(0), 'an integer number of milliseconds >= 0', '1000'),
  OCPM_RESTART_BACKOFF_MAX_MS: setting(integer(0), 'an integer number of milliseconds >= 0', '30000'),
  OCPM_RESTART_DRAIN_MS: setting(integer(0), 'an integer number of milliseconds >= 0', '30000'),
  OCPM_SERVER_RETRY_MS: setting(integer(1000), 'an integer number of milliseconds >= 1000', '60000'),
  OCPM_MAX_INSTANCE_RSS_MB: setting(integer(0), 'an integer number of MB (0 = no limit)', '3072'),
  OCPM_DIRECTORY_IDLE_MS: setting(integer(1000), 'an integer number of milliseconds >= 1000', '1800000'),
  OCPM_ISOLATION: setting(z.enum(['auto', 'required', 'off']), 'auto, required or off', 'auto'),
  OCPM_SANDBOX_READ_PATHS: setting(commaList(z.string().regex(/^\/[^:,]*$/, 'an absolute path without : or ,')), 'a comma-separated list of absolute paths', ''),
  OCPM_TOOL_ENV_ALLOW: setting(nameList, 'a comma-separated list of variable names (NAME or PREFIX*)', ''),
  OCPM_AUTH: setting(z.enum(['enabled', 'disabled']), 'enabled or disabled', 'enabled'),
  OCPM_API_TOKEN: setting(tokenList.optional(), 'a comma-separated list of tokens (printable ASCII, no spaces or commas)', undefined),
  OCPM_API_TOKEN_FILE: setting(z.string().min(1).optional(), 'a path to a file holding tokens, one per line or comma-separated', undefined),
  OCPM_METRICS_TOKEN: setting(tokenList.optional(), 'a comma-separated list of tokens for /metrics', undefined),
  OCPM_RATE_LIMIT_PER_MIN: setting(integer(0), 'an integer number of messages per minute per token (0 = off)', '300'),
  OCPM_MAX_STREAMS_PER_TOKEN: setting(integer(1, 100000), 'an integer 1-100000', '50'),
  OCPM_CORS_ORIGINS: setting(originList, 'a comma-separated list of origins like https://app.example.com, or *', ''),
  OCPM_AUTO_CREATE_WORKSPACES: setting(boolean, 'true or false', 'false'),
  OCPM_ALLOW_SHARED_WORKSPACES: setting(boolean, 'true or false', 'false'),
  OCPM_LOG_LEVEL: setting(z.enum(LOG_LEVELS), `one of ${LOG_LEVELS.join(', ')}`, 'info'),
  OCPM_LOG_FORMAT: setting(z.enum(['json', 'pretty']), 'json or pretty', 'json'),
} as const;

type Settings = typeof SETTINGS;
type Parsed = { [K in keyof Settings]: Settings[K] extends Setting<infer T> ? T : never };

export interface Config {
  readonly port: number;
  readonly host: string;
  /** Explicit binary; when absent the manager looks in node_modules, then PATH. */
  readonly opencodeBin: string | undefined;
  readonly workspaceRoot: string;
  readonly dataDir: string;
  readonly turnTimeoutMs: number;
  readonly killGraceMs: number;
  readonly sessionIdleMs: number;
  readonly abortOnDisconnect: boolean;
  readonly maxBodyBytes: number;
  readonly maxMessageChars: number;
  /** Extra variable names (or `PREFIX*`) passed through to opencode children. */
  readonly childEnvAllow: readonly string[];
  readonly stallTimeoutMs: number;
  readonly maxConcurrentTurns: number;
  readonly queueLimit: number;
  readonly sessionQueueLimit: number;
  readonly queueTimeoutMs: number;
  readonly drainTimeoutMs: number;
  readonly mode: 'auto' | 'server' | 'per-message';
  /** Undefined: 1 shared server, or OCPM_MAX_CONCURRENT_TURNS isolated ones (one session each). */
  readonly poolSize: number | undefined;
  readonly serverStartTimeoutMs: number;
  readonly healthIntervalMs: number;
  readonly healthTimeoutMs: number;
  readonly healthFailures: number;
  readonly maxRestarts: number;
  readonly restartWindowMs: number;
  readonly restartBackoffMs: number;
  readonly restartBackoffMaxMs: number;
  readonly restartDrainMs: number;
  readonly serverRetryMs: number;
  readonly maxInstanceRssMb: number;
  readonly directoryIdleMs: number;
  /** Whether each session's opencode runs in a sandbox of its own (auto: wherever the kernel can). */
  readonly isolation: 'auto' | 'required' | 'off';
  /** More read-only paths inside every session's sandbox. */
  readonly sandboxReadPaths: readonly string[];
  /** More environment variables the agent's commands keep (provider keys only when listed here). */
  readonly toolEnvAllow: readonly string[];
  /** 'disabled' only when set explicitly; the service then binds to 127.0.0.1. */
  readonly auth: 'enabled' | 'disabled';
  readonly apiTokens: readonly string[];
  readonly apiTokenFile: string | undefined;
  /** When set, /metrics needs one of these; otherwise it is open. */
  readonly metricsTokens: readonly string[];
  readonly rateLimitPerMin: number;
  readonly maxStreamsPerToken: number;
  readonly corsOrigins: readonly string[];
  /** PUT without a workspace gets `<root>/<session id>`. */
  readonly autoCreateWorkspaces: boolean;
  /** Two sessions may use the same (or nested) workspace. */
  readonly allowSharedWorkspaces: boolean;
  readonly logLevel: (typeof LOG_LEVELS)[number];
  readonly logFormat: 'json' | 'pretty';
}

/** The documented variables with their defaults (the README's configuration table mirrors this). */
export const CONFIG_VARIABLES: ReadonlyArray<{ name: string; fallback: string | undefined; expected: string }> =
  Object.entries(SETTINGS).map(([name, s]) => ({ name, fallback: s.fallback, expected: s.expected }));

/** Never echoed in a ConfigError (which is printed at boot). */
const SECRET_VARIABLES = new Set(['OCPM_API_TOKEN', 'OCPM_METRICS_TOKEN']);

function parseAll(env: NodeJS.ProcessEnv): Parsed {
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(SETTINGS) as Array<[string, Setting<unknown>]>) {
    const raw = env[name] === undefined || env[name] === '' ? s.fallback : env[name];
    const result = s.schema.safeParse(raw);
    if (!result.success) throw new ConfigError(name, s.expected, SECRET_VARIABLES.has(name) ? '<redacted>' : env[name]);
    out[name] = result.data;
  }
  return out as Parsed;
}

/** Parses the environment; throws ConfigError naming the first bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  const v = parseAll(env);
  return {
    port: v.PORT,
    host: v.HOST,
    opencodeBin: v.OCPM_OPENCODE_BIN === undefined ? undefined : path.resolve(cwd, v.OCPM_OPENCODE_BIN),
    workspaceRoot: path.resolve(cwd, v.OCPM_WORKSPACE_ROOT),
    dataDir: path.resolve(cwd, v.OCPM_DATA_DIR),
    turnTimeoutMs: v.OCPM_TURN_TIMEOUT_MS,
    killGraceMs: v.OCPM_KILL_GRACE_MS,
    sessionIdleMs: v.OCPM_SESSION_IDLE_MS,
    abortOnDisconnect: v.OCPM_ABORT_ON_DISCONNECT,
    maxBodyBytes: v.OCPM_MAX_BODY_BYTES,
    maxMessageChars: v.OCPM_MAX_MESSAGE_CHARS,
    childEnvAllow: v.OCPM_CHILD_ENV_ALLOW,
    stallTimeoutMs: v.OCPM_STALL_TIMEOUT_MS,
    maxConcurrentTurns: v.OCPM_MAX_CONCURRENT_TURNS,
    queueLimit: v.OCPM_QUEUE_LIMIT,
    sessionQueueLimit: v.OCPM_SESSION_QUEUE_LIMIT,
    queueTimeoutMs: v.OCPM_QUEUE_TIMEOUT_MS,
    drainTimeoutMs: v.OCPM_DRAIN_TIMEOUT_MS,
    mode: v.OCPM_MODE,
    poolSize: v.OCPM_POOL_SIZE,
    serverStartTimeoutMs: v.OCPM_SERVER_START_TIMEOUT_MS,
    healthIntervalMs: v.OCPM_HEALTH_INTERVAL_MS,
    healthTimeoutMs: v.OCPM_HEALTH_TIMEOUT_MS,
    healthFailures: v.OCPM_HEALTH_FAILURES,
    maxRestarts: v.OCPM_MAX_RESTARTS,
    restartWindowMs: v.OCPM_RESTART_WINDOW_MS,
    restartBackoffMs: v.OCPM_RESTART_BACKOFF_MS,
    restartBackoffMaxMs: v.OCPM_RESTART_BACKOFF_MAX_MS,
    restartDrainMs: v.OCPM_RESTART_DRAIN_MS,
    serverRetryMs: v.OCPM_SERVER_RETRY_MS,
    maxInstanceRssMb: v.OCPM_MAX_INSTANCE_RSS_MB,
    directoryIdleMs: v.OCPM_DIRECTORY_IDLE_MS,
    isolation: v.OCPM_ISOLATION,
    sandboxReadPaths: v.OCPM_SANDBOX_READ_PATHS,
    toolEnvAllow: v.OCPM_TOOL_ENV_ALLOW,
    auth: v.OCPM_AUTH,
    apiTokens: v.OCPM_API_TOKEN ?? [],
    apiTokenFile: v.OCPM_API_TOKEN_FILE === undefined ? undefined : path.resolve(cwd, v.OCPM_API_TOKEN_FILE),
    metricsTokens: v.OCPM_METRICS_TOKEN ?? [],
    rateLimitPerMin: v.OCPM_RATE_LIMIT_PER_MIN,
    maxStreamsPerToken: v.OCPM_MAX_STREAMS_PER_TOKEN,
    corsOrigins: v.OCPM_CORS_ORIGINS,
    autoCreateWorkspaces: v.OCPM_AUTO_CREATE_WORKSPACES,
    allowSharedWorkspaces: v.OCPM_ALLOW_SHARED_WORKSPACES,
    logLevel: v.OCPM_LOG_LEVEL,
    logFormat: v.OCPM_LOG_FORMAT,
  };
}
