// The library's public exports, for a Node app that embeds the manager instead of calling the API.
// The manager: its class, its options and results, and what the service wires it with.
export * from './manager/index.js';
export type { OpencodeEvent } from './opencode-wire/run-events.js';
export type { TokenUsage } from './usage/usage.js';
export { OcpmError, RunFailedError, SpawnFailedError, TurnAbortedError, TurnTimeoutError } from './errors/errors.js';
export { ERROR_CODES, type ErrorCode } from './errors/codes.js';
export { loadConfig, ConfigError, type Config } from './config/config.js';
export { createMetrics, type Metrics } from './metrics/metrics.js';
export { createLogger, type Logger } from './logging/logger.js';
export { createApp, type AppDeps } from './http/app.js';
export { startService, type Service } from './service.js';
