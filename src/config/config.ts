// The only module that reads process.env: parses and validates the configuration once, at boot, into
// one section per consumer (http, pool, queue, …) with the keys of the settings table.
import path from 'node:path';
import { SECTIONS, SETTINGS, type SectionName, type SettingsTable, type VariableName } from './settings.js';

export { LOG_LEVELS, TOKEN_PATTERN, type SectionName } from './settings.js';

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

type Row = SettingsTable[VariableName];
type SectionOf<S extends SectionName> = {
  readonly [
    N in VariableName as SettingsTable[N]['section'] extends S ? SettingsTable[N]['key'] : never
  ]: SettingsTable[N]['fallback'] extends readonly string[] ? readonly string[] : SettingsTable[N]['fallback'];
};

/** The whole configuration: one section per consumer, each key named as in the settings table. */
export type Config = { readonly [S in SectionName]: SectionOf<S> };

const ROWS = Object.entries(SETTINGS) as Array<[VariableName, Row]>;

function build(read: (name: VariableName, row: Row) => unknown, cwd: string): Config {
  const sections: Record<string, Record<string, unknown>> = Object.fromEntries(SECTIONS.map((section) => [section, {}]));
  for (const [name, row] of ROWS) {
    const value = read(name, row);
    sections[row.section]![row.key] = 'isPath' in row && row.isPath === true && typeof value === 'string' ? path.resolve(cwd, value) : value;
  }
  return sections as unknown as Config;
}

/** Every setting at its default (paths resolved against `cwd`). */
export function configDefaults(cwd = process.cwd()): Config {
  return build((_name, row) => row.fallback, cwd);
}

/** Parses the environment; throws ConfigError naming the first bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  return build((name, row) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return row.fallback;
    const result = row.schema.safeParse(raw);
    if (!result.success) throw new ConfigError(name, row.expected, 'secret' in row && row.secret === true ? '<redacted>' : raw);
    return result.data;
  }, cwd);
}

/** The default as the doc shows it (`undefined`: none). */
function fallbackText(row: Row): string | undefined {
  if ('fallbackText' in row && row.fallbackText !== undefined) return row.fallbackText;
  const value = row.fallback as string | number | boolean | readonly string[] | undefined;
  if (value === undefined) return undefined;
  return typeof value === 'object' ? value.join(',') : String(value);
}

/** The documented variables with their defaults, section and key. */
export const CONFIG_VARIABLES: ReadonlyArray<{
  name: VariableName;
  section: SectionName;
  key: string;
  fallback: string | undefined;
  expected: string;
  doc: string;
}> = ROWS.map(([name, row]) => ({ name, section: row.section, key: row.key, fallback: fallbackText(row), expected: row.expected, doc: row.doc }));

/** The configuration doc's table, generated from the settings table. */
export function configTableMarkdown(): string {
  const lines = ['| Variable | Default | Description |', '| --- | --- | --- |'];
  for (const v of CONFIG_VARIABLES) {
    const fallback = v.fallback === undefined || v.fallback === '' ? '—' : `\`${v.fallback}\``;
    lines.push(`| \`${v.name}\` | ${fallback} | ${v.doc} |`);
  }
  return lines.join('\n');
}
