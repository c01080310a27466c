// The winston logger factory: JSON lines to stdout by default; components take child loggers.
import winston from 'winston';
import { isSecretKey, REDACTED, redactCredentials, redactFields } from '../util/redact.js';

export type Logger = winston.Logger;

export interface LoggerOptions {
  readonly level: string;
  readonly format: 'json' | 'pretty';
  /** Where lines go; tests pass a stream to read them back. Defaults to stdout. */
  readonly stream?: NodeJS.WritableStream;
}

/**
 * Masks secrets before any transport sees a record: fields named like secrets (token, password,
 * authorization, api key) and bearer credentials inside strings. A last line of defence; code
 * should not log secrets in the first place.
 */
const redactSecrets = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (key === 'level') continue;
    const value: unknown = info[key];
    info[key] = isSecretKey(key) && typeof value === 'string' ? REDACTED : typeof value === 'string' ? redactCredentials(value) : redactFields(value);
  }
  return info;
});

export function createLogger(options: LoggerOptions): Logger {
  const format =
    options.format === 'pretty'
      ? winston.format.combine(
          redactSecrets(),
          winston.format.timestamp(),
          winston.format.colorize(),
          winston.format.printf(({ timestamp, level, message, component, ...rest }) => {
            const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
            const where = typeof component === 'string' ? ` [${component}]` : '';
            return `${String(timestamp)} ${level}${where} ${String(message)}${extra}`;
          }),
        )
      : winston.format.combine(redactSecrets(), winston.format.timestamp(), winston.format.errors({ stack: false }), winston.format.json());
  const transport = options.stream === undefined ? new winston.transports.Console() : new winston.transports.Stream({ stream: options.stream });
  return winston.createLogger({ level: options.level, format, transports: [transport] });
}

/** A logger that drops everything: the default for an embedded manager that was given none. */
export function createSilentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}
