// What a row of the settings table is (section, key, parser, typed default, doc line) and the
// parsers the rows use.
import { z } from 'zod';

export const SECTIONS = ['http', 'auth', 'storage', 'opencode', 'turns', 'queue', 'budgets', 'pool', 'isolation', 'gateway', 'cluster', 'log'] as const;
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

export function setting<const S extends SectionName, const K extends string, T>(
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

export const integer = (min: number, max = Number.MAX_SAFE_INTEGER): z.ZodType<number> =>
  z.string().regex(/^\d+$/).transform(Number).pipe(z.number().int().min(min).max(max));

/** A non-negative decimal number such as 2 or 0.25. */
export const decimal = (min: number): z.ZodType<number> =>
  z
    .string()
    .regex(/^\d+(\.\d+)?$/)
    .transform(Number)
    .pipe(z.number().min(min));

export const boolean: z.ZodType<boolean> = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

export const text: z.ZodType<string> = z.string().min(1);

/** A comma-separated list (blanks dropped) of at least `min` items, each checked by `item`. */
export const commaList = (item: z.ZodType<string, string>, min = 0): z.ZodType<string[]> =>
  z
    .string()
    .transform((value) =>
      value
        .split(',')
        .map((entry) => entry.trim())
        .filter((entry) => entry !== ''),
    )
    .pipe(z.array(item).min(min));

export const nameList = commaList(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*\*?$/));
export const tokenList = commaList(z.string().regex(TOKEN_PATTERN), 1);
// Exact origins (scheme://host[:port]) or '*': CORS is closed unless this lists some.
export const originList = commaList(z.string().regex(/^(\*|https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?)$/));
export const pathList = commaList(z.string().regex(/^\/[^:,]*$/, 'an absolute path without : or ,'));

export const ms = (min: number): string => `an integer number of milliseconds >= ${min}`;
export const NAMES = 'a comma-separated list of variable names (NAME or PREFIX*)';
