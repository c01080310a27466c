// Splits argv into a command, its positionals and `--option[=value]` flags, wherever they appear
// (`ocpm --json status` and `ocpm status --json` are the same). Which options a command takes is
// checked by the command table, not here.
import { usageError } from './cli-error.js';

/** Options that take a value; every other known option is a boolean flag. */
const VALUE_OPTIONS = new Set(['url', 'token-file', 'state', 'limit', 'offset', 'message']);
const FLAG_OPTIONS = new Set(['json', 'help']);
const SHORT_OPTIONS: Readonly<Record<string, string>> = { h: 'help' };

export interface ParsedArgs {
  readonly command: string | undefined;
  readonly positionals: readonly string[];
  /** Option name (without `--`) to its value; flags are `true`. */
  readonly options: ReadonlyMap<string, string | true>;
}

export function parseArgs(argv: readonly string[]): ParsedArgs {
  const words: string[] = [];
  const options = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      words.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      words.push(arg);
      continue;
    }
    const [rawName = '', inline] = splitOnce(arg.replace(/^--?/, ''), '=');
    const name = arg.startsWith('--') ? rawName : (SHORT_OPTIONS[rawName] ?? `-${rawName}`);
    if (FLAG_OPTIONS.has(name)) {
      if (inline !== undefined) throw usageError(`option --${name} takes no value`);
      options.set(name, true);
    } else if (VALUE_OPTIONS.has(name)) {
      const value = inline ?? argv[++i];
      if (value === undefined || (inline === undefined && value.startsWith('--'))) throw usageError(`option --${name} needs a value`);
      options.set(name, value);
    } else {
      throw usageError(`unknown option ${arg.split('=')[0]}`);
    }
  }
  const [command, ...positionals] = words;
  return { command, positionals, options };
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

/** A non-negative integer option (`--limit 20`), or undefined when it was not given. */
export function integerOption(options: ParsedArgs['options'], name: string, min: number): number | undefined {
  const value = options.get(name);
  if (value === undefined || value === true) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min) throw usageError(`--${name} expects an integer >= ${min}, got ${JSON.stringify(value)}`);
  return Number(value);
}
