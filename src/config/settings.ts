// The settings table: every environment variable the service reads, once, with the section and key
// it reaches its consumer under (the key is the variable's name in camelCase without `OCPM_`), its
// parser, its typed default and the line the configuration doc shows. A new setting is one row here
// and one read in its consumer; docs/configuration.md is generated from this table.
import { z } from 'zod';

export const SECTIONS = ['http', 'auth', 'storage', 'opencode', 'turns', 'queue', 'pool', 'isolation', 'log'] as const;
export type SectionName = (typeof SECTIONS)[number];

export const LOG_LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] as const;

/** What a bearer token may contain: printable ASCII without spaces (and, in lists, without commas). */
export const TOKEN_PATTERN = /^[\x21-\x7e]+$/;

export interface Setting<S extends SectionName, K extends string, T> {
  readonly section: S;
  readonly key: K;
  readonly schema: z.ZodType<T>;
  /** Used when the variable is unset or empty. */
  readonly fallback: T;
  /** What a valid value looks like (in ConfigError messages). */
  readonly expected: string;
  /** One line for the configuration doc. */
  readonly doc: string;
  /** The default as the doc shows it, when it is not the value itself. */
  readonly fallbackText?: string;
  /** A path resolved against the working directory. */
  readonly isPath?: boolean;
  /** Never echoed in a ConfigError (which is printed at boot). */
  readonly secret?: boolean;
}

type Extra = Pick<Setting<SectionName, string, unknown>, 'fallbackText' | 'isPath' | 'secret'>;

function setting<const S extends SectionName, const K extends string, T>(
  section: S,
  key: K,
  schema: z.ZodType<T>,
  fallback: NoInfer<T>,
  expected: string,
  doc: string,
  extra: Extra = {},
): Setting<S, K, T> {
  return { section, key, schema, fallback, expected, doc, ...extra };
}

const integer = (min: number, max = Number.MAX_SAFE_INTEGER): z.ZodType<number> =>
  z
    .string()
    .regex(/^\d+$/)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const boolean: z.ZodType<boolean> = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((value) => value === 'true' || value === '1' || value === 'yes');

const text: z.ZodType<string> = z.string().min(1);

/** A comma-separated list (blanks dropped) of at least `min` items, each checked by `item`. */
const commaList = (item: z.ZodType<string, string>, min = 0): z.ZodType<string[]> =>
  z
    .string()
    .transform((value) =>
      value
        .split(',')
        .map((entry) => entry.trim())
        .filter((entry) => entry !== ''),
    )
    .pipe(z.array(item).min(min));

const nameList = commaList(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*\*?$/));
const tokenList = commaList(z.string().regex(TOKEN_PATTERN), 1);
// Exact origins (scheme://host[:port]) or '*': CORS is closed unless this lists some.
const originList = commaList(z.string().regex(/^(\*|https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?)$/));
const pathList = commaList(z.string().regex(/^\/[^:,]*$/, 'an absolute path without : or ,'));

const ms = (min: number): string => `an integer number of milliseconds >= ${min}`;
const NAMES = 'a comma-separated list of variable names (NAME or PREFIX*)';

export const SETTINGS = {
  PORT: setting('http', 'port', integer(0, 65535), 3000, 'a port number 0-65535', 'HTTP port (`0` picks a free one; the log line `HTTP server listening` says which).'),
  HOST: setting('http', 'host', text, '0.0.0.0', 'a host or address to bind', 'Address to bind.'),
  OCPM_MAX_BODY_BYTES: setting('http', 'maxBodyBytes', integer(1024), 1048576, 'an integer number of bytes >= 1024', 'Largest request body (`payload_too_large` above it).'),
  OCPM_MAX_MESSAGE_CHARS: setting('http', 'maxMessageChars', integer(1), 200000, 'an integer number of characters >= 1', 'Longest message `text`.'),
  OCPM_ABORT_ON_DISCONNECT: setting('http', 'abortOnDisconnect', boolean, true, 'true or false', 'A client that disconnects before its answer aborts the turn; `false` lets the turn finish and keeps its answer in the turn history.'),
  OCPM_RATE_LIMIT_PER_MIN: setting('http', 'rateLimitPerMin', integer(0), 300, 'an integer number of messages per minute per token (0 = off)', 'Message submissions per token per minute; past it, 429 `rate_limited` with `Retry-After`. `0` turns it off.'),
  OCPM_MAX_STREAMS_PER_TOKEN: setting('http', 'maxStreamsPerToken', integer(1, 100000), 50, 'an integer 1-100000', 'SSE streams one token may have open; past it, 429 `too_many_streams`.'),
  OCPM_CORS_ORIGINS: setting('http', 'corsOrigins', originList, [], 'a comma-separated list of origins like https://app.example.com, or *', 'Origins (`https://app.example.com`, comma-separated, or `*`) allowed to call the API from a browser; CORS is closed when empty.'),

  OCPM_AUTH: setting('auth', 'auth', z.enum(['enabled', 'disabled']), 'enabled', 'enabled or disabled', '`disabled` turns authentication off (only when set explicitly); the service then binds to 127.0.0.1 whatever `HOST` says, and warns at boot.'),
  OCPM_API_TOKEN: setting('auth', 'apiToken', tokenList, [], 'a comma-separated list of tokens (printable ASCII, no spaces or commas)', 'API bearer tokens, comma-separated (several at once for rotation).', { secret: true }),
  OCPM_API_TOKEN_FILE: setting('auth', 'apiTokenFile', text.optional(), undefined, 'a path to a file holding tokens, one per line or comma-separated', 'A file of tokens, one per line or comma-separated (`#` comments allowed), e.g. a mounted Kubernetes Secret; re-read when it changes.', { isPath: true }),
  OCPM_METRICS_TOKEN: setting('auth', 'metricsToken', tokenList, [], 'a comma-separated list of tokens for /metrics', 'When set, `/metrics` needs `Authorization: Bearer` with one of these (comma-separated); otherwise it is open.', { secret: true }),

  OCPM_WORKSPACE_ROOT: setting('storage', 'workspaceRoot', text, './workspaces', 'a directory path', 'Every workspace must resolve inside this directory (created at boot).', { isPath: true }),
  OCPM_DATA_DIR: setting('storage', 'dataDir', text, './data', 'a directory path', 'The service\'s own state: registry, generated API token, opencode data dirs and session homes (created at boot).', { isPath: true }),
  OCPM_AUTO_CREATE_WORKSPACES: setting('storage', 'autoCreateWorkspaces', boolean, false, 'true or false', 'A `PUT /api/sessions/:id` without a workspace gets (and creates) `<root>/<session id>`.'),
  OCPM_ALLOW_SHARED_WORKSPACES: setting('storage', 'allowSharedWorkspaces', boolean, false, 'true or false', 'Allow two sessions to use the same workspace (or one inside the other).'),

  OCPM_OPENCODE_BIN: setting('opencode', 'opencodeBin', text.optional(), undefined, 'a path to the opencode executable', 'The opencode executable. Unset: the binary from the `opencode-ai` dependency in `node_modules`, else `opencode` on `PATH`.', { isPath: true }),
  OCPM_MODE: setting('opencode', 'mode', z.enum(['auto', 'server', 'per-message']), 'auto', 'auto, server or per-message', '`auto`: server mode when the binary has `opencode serve`, else per-message; `server`; `per-message`.'),
  OCPM_CHILD_ENV_ALLOW: setting('opencode', 'childEnvAllow', nameList, [], NAMES, 'Extra environment variables passed to opencode, comma-separated names or `PREFIX*`. `OCPM_*` never passes.'),
  OCPM_KILL_GRACE_MS: setting('opencode', 'killGraceMs', integer(0, 600000), 5000, 'an integer number of milliseconds 0-600000', 'Time between SIGTERM and SIGKILL when a process tree is ended.'),

  OCPM_TURN_TIMEOUT_MS: setting('turns', 'turnTimeoutMs', integer(100), 600000, ms(100), 'Longest turn; then opencode and every descendant are killed (`turn_timeout`).'),
  OCPM_STALL_TIMEOUT_MS: setting('turns', 'stallTimeoutMs', integer(0), 300000, 'an integer number of milliseconds (0 = off)', 'A turn with no output or event for this long is ended (`stall_timeout`); `0` disables.'),
  OCPM_SESSION_IDLE_MS: setting('turns', 'sessionIdleMs', integer(1000), 1800000, ms(1000), 'A session with a message within this window counts in `activeSessions`.'),
  OCPM_DRAIN_TIMEOUT_MS: setting('turns', 'drainTimeoutMs', integer(0), 25000, ms(0), 'On SIGTERM/SIGINT, how long accepted messages get to finish before they are aborted.'),

  OCPM_MAX_CONCURRENT_TURNS: setting('queue', 'maxConcurrentTurns', integer(1, 1000), 4, 'an integer 1-1000', 'Turns running at once across all sessions; more wait in the queue.'),
  OCPM_QUEUE_LIMIT: setting('queue', 'queueLimit', integer(0, 100000), 100, 'an integer 0-100000', 'Messages waiting in all; past it, 429 `queue_full` with `Retry-After`.'),
  OCPM_SESSION_QUEUE_LIMIT: setting('queue', 'sessionQueueLimit', integer(0, 10000), 8, 'an integer 0-10000', 'Messages one session may have waiting behind its running turn; past it, 429 `session_queue_full`.'),
  OCPM_QUEUE_TIMEOUT_MS: setting('queue', 'queueTimeoutMs', integer(100), 300000, ms(100), 'Longest wait in the queue before a message is dropped (`queue_timeout`).'),

  OCPM_POOL_SIZE: setting('pool', 'poolSize', integer(1, 64).optional(), undefined, 'an integer 1-64 (default: 1; with isolation, OCPM_MAX_CONCURRENT_TURNS)', 'Server instances (pool slots), 1-64. Unset: `1`, or `OCPM_MAX_CONCURRENT_TURNS` with isolation, where each slot serves one session at a time.'),
  OCPM_SERVER_START_TIMEOUT_MS: setting('pool', 'serverStartTimeoutMs', integer(1000), 60000, ms(1000), 'Longest wait for an instance\'s listening line and first healthy `/global/health`.'),
  OCPM_HEALTH_INTERVAL_MS: setting('pool', 'healthIntervalMs', integer(100), 10000, ms(100), 'How often each instance is probed (health, memory, idle directories).'),
  OCPM_HEALTH_TIMEOUT_MS: setting('pool', 'healthTimeoutMs', integer(100), 5000, ms(100), 'Bound of one health probe (and of abort and dispose calls).'),
  OCPM_HEALTH_FAILURES: setting('pool', 'healthFailures', integer(1, 100), 3, 'an integer 1-100', 'Consecutive failed probes that make the instance restart.'),
  OCPM_MAX_RESTARTS: setting('pool', 'maxRestarts', integer(0, 1000), 5, 'an integer 0-1000', 'Restarts allowed within `OCPM_RESTART_WINDOW_MS`; one more marks the instance `failed`.'),
  OCPM_RESTART_WINDOW_MS: setting('pool', 'restartWindowMs', integer(1000), 300000, ms(1000), 'The crash-loop window.'),
  OCPM_RESTART_BACKOFF_MS: setting('pool', 'restartBackoffMs', integer(0), 1000, ms(0), 'First restart delay; doubles with each restart in the window.'),
  OCPM_RESTART_BACKOFF_MAX_MS: setting('pool', 'restartBackoffMaxMs', integer(0), 30000, ms(0), 'Cap of the restart delay.'),
  OCPM_RESTART_DRAIN_MS: setting('pool', 'restartDrainMs', integer(0), 30000, ms(0), 'How long a planned restart (unhealthy, too big) waits for the instance\'s turns before aborting them.'),
  OCPM_SERVER_RETRY_MS: setting('pool', 'serverRetryMs', integer(1000), 60000, ms(1000), 'How long a `failed` instance waits before server mode is tried again (its sessions run per-message meanwhile).'),
  OCPM_MAX_INSTANCE_RSS_MB: setting('pool', 'maxInstanceRssMb', integer(0), 3072, 'an integer number of MB (0 = no limit)', 'Resident memory of an instance\'s whole process tree above which it is recycled (drained first); `0` disables. Size it at ~315 MB + ~70–90 MB per workspace one instance serves at once.'),
  OCPM_DIRECTORY_IDLE_MS: setting('pool', 'directoryIdleMs', integer(1000), 1800000, ms(1000), 'A workspace unused this long is released from its instance (`POST /instance/dispose`); with isolation the session\'s server stops and frees its slot.'),

  OCPM_ISOLATION: setting('isolation', 'isolation', z.enum(['auto', 'required', 'off']), 'auto', 'auto, required or off', '`auto`: every session\'s opencode runs in a Landlock sandbox of its own wherever the kernel can (Linux 6.12+); `required`: refuse to start otherwise; `off`: no sandbox (warned at boot).'),
  OCPM_SANDBOX_READ_PATHS: setting('isolation', 'sandboxReadPaths', pathList, [], 'a comma-separated list of absolute paths', 'More read-only paths inside every sandbox (comma-separated, absolute), for toolchains outside `/usr` and `/opt`.'),
  OCPM_TOOL_ENV_ALLOW: setting('isolation', 'toolEnvAllow', nameList, [], NAMES, 'More variables the agent\'s commands keep in the sandbox (`NAME` or `PREFIX*`). Provider keys reach commands only when listed here.'),

  OCPM_LOG_LEVEL: setting('log', 'logLevel', z.enum(LOG_LEVELS), 'info', `one of ${LOG_LEVELS.join(', ')}`, '`error`, `warn`, `info`, `http`, `verbose`, `debug`, `silly`.'),
  OCPM_LOG_FORMAT: setting('log', 'logFormat', z.enum(['json', 'pretty']), 'json', 'json or pretty', '`json` (one JSON object per line on stdout) or `pretty`.'),
} as const;

export type SettingsTable = typeof SETTINGS;
export type VariableName = keyof SettingsTable;
