// The opencode configuration the operator gave the service (the global config file of the service's
// HOME, OPENCODE_CONFIG, OPENCODE_CONFIG_CONTENT, merged in opencode's order) and opencode's
// `{env:NAME}` / `{file:path}` substitutions. The gateway reads it once at boot; opencode children get
// a rewritten copy, never the text itself.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { isRecord } from '../util/guards.js';

export type JsonObject = Record<string, unknown>;

export class OperatorConfigError extends Error {
  constructor(
    /** Where the bad configuration came from (a variable or a file), never its text. */
    readonly source: string,
    detail: string,
  ) {
    super(`${source} is not a valid opencode configuration: ${detail}`);
  }
}

/** JSON with comments and trailing commas (opencode's `.jsonc`) as plain JSON; strings are kept as they are. */
export function stripJsonc(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (ch === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i += 1;
    } else if (ch === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end === -1 ? text.length : end + 2;
    } else if (ch === ',' && /^(\s|\/\/[^\n]*\n|\/\*[\s\S]*?\*\/)*[}\]]/.test(text.slice(i + 1))) {
      // A trailing comma (before a closing bracket, maybe across comments) is dropped.
      i += 1;
    } else {
      out += ch;
      i += 1;
    }
  }
  return out;
}

/** Parses one source; the error names where it failed (position), never what the text holds. */
export function parseConfigText(text: string, source: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(stripJsonc(text));
  } catch (error) {
    const position = /position (\d+)/.exec(error instanceof Error ? error.message : '')?.[1];
    throw new OperatorConfigError(source, position === undefined ? 'it is not JSON' : `JSON error at position ${position}`);
  }
  if (!isRecord(value)) throw new OperatorConfigError(source, 'it is not a JSON object');
  return value;
}

/** Objects merged key by key (later sources win), as opencode merges its config sources. */
export function deepMerge(base: JsonObject, over: JsonObject): JsonObject {
  const out: JsonObject = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const previous = out[key];
    out[key] = isRecord(previous) && isRecord(value) ? deepMerge(previous, value) : value;
  }
  return out;
}

/** The files and variables, lowest precedence first. */
export function readOperatorConfig(env: NodeJS.ProcessEnv): JsonObject {
  let config: JsonObject = {};
  const configHome = env.XDG_CONFIG_HOME ?? (env.HOME === undefined ? undefined : path.join(env.HOME, '.config'));
  if (configHome !== undefined) {
    for (const name of ['config.json', 'opencode.json', 'opencode.jsonc']) {
      const file = path.join(configHome, 'opencode', name);
      if (existsSync(file)) config = deepMerge(config, parseConfigText(readFileSync(file, 'utf8'), file));
    }
  }
  const file = env.OPENCODE_CONFIG;
  if (file !== undefined && file !== '') {
    if (!existsSync(file)) throw new OperatorConfigError('OPENCODE_CONFIG', `${file} does not exist`);
    config = deepMerge(config, parseConfigText(readFileSync(file, 'utf8'), 'OPENCODE_CONFIG'));
  }
  const content = env.OPENCODE_CONFIG_CONTENT;
  if (content !== undefined && content.trim() !== '') config = deepMerge(config, parseConfigText(content, 'OPENCODE_CONFIG_CONTENT'));
  return config;
}

/** opencode's `{env:NAME}` and `{file:path}` in a string value (a missing variable or file gives ''). */
export function substitute(value: unknown, env: NodeJS.ProcessEnv): unknown {
  if (typeof value !== 'string') return value;
  return value
    .replace(/\{env:([^}]+)\}/g, (_, name: string) => env[name] ?? '')
    .replace(/\{file:([^}]+)\}/g, (_, file: string) => {
      const resolved = file.startsWith('~/') ? path.join(env.HOME ?? '', file.slice(2)) : file;
      try {
        return readFileSync(resolved, 'utf8').trim();
      } catch {
        return '';
      }
    });
}

/** The variable names a config refers to with `{env:NAME}` (credentials kept out of children too). */
export function referencedVariables(config: JsonObject): string[] {
  return [...JSON.stringify(config).matchAll(/\{env:([^}"]+)\}/g)].map((match) => match[1]!);
}
