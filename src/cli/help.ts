// The help texts: `ocpm --help` (commands, global options, token sources, exit codes) and
// `ocpm help <command>` / `ocpm <command> --help`.
import type { Command } from './command.js';
import { COMMANDS } from './commands/index.js';
import { formatTable } from './table.js';
import { DEFAULT_DATA_DIR } from './token.js';

export const DEFAULT_URL = 'http://127.0.0.1:3000';

const GLOBAL_OPTIONS: readonly (readonly [string, string])[] = [
  ['--url URL', `the service (env OCPM_URL, default ${DEFAULT_URL})`],
  ['--token-file F', 'read the API token from file F'],
  ['--json', "print the service's JSON answer instead of a table"],
  ['-h, --help', 'this help; `ocpm help <command>` for one command'],
];

const TOKEN_SOURCES = [
  'API token, first found: OCPM_API_TOKEN, --token-file F, OCPM_API_TOKEN_FILE,',
  `then <OCPM_DATA_DIR>/api-token (default ${DEFAULT_DATA_DIR}/api-token, the token the service generates).`,
];

const EXIT_CODES: readonly (readonly [string, string])[] = [
  ['0', 'ok'],
  ['1', 'the service answered an error (printed as `ocpm: <code>: <message>`)'],
  ['2', 'usage error: unknown command or option, bad argument'],
  ['3', 'the service cannot be reached, or no API token was found'],
];

const indent = (text: string): string => text.replace(/^/gm, '  ');

export function overviewHelp(): string {
  return [
    'ocpm: operate an opencode-process-manager service',
    '',
    'Usage: ocpm <command> [options]',
    '',
    'Commands:',
    indent(formatTable(COMMANDS.map((command) => [command.usage, command.summary]))),
    ...footer(GLOBAL_OPTIONS),
  ].join('\n');
}

export function commandHelp(command: Command): string {
  const options: (readonly [string, string])[] = [
    ...command.options.map((option) => [`--${option.name}${option.value ? ` ${option.value}` : ''}`, option.help] as const),
    ...GLOBAL_OPTIONS,
  ];
  return [
    `Usage: ocpm ${command.usage}${command.options.length > 0 ? ' [options]' : ''} [--json]`,
    '',
    `${command.summary[0]?.toUpperCase() ?? ''}${command.summary.slice(1)}.`,
    ...command.details,
    ...footer(options),
  ].join('\n');
}

/** The end of every help text: the options, where the token comes from, the exit codes. */
function footer(options: readonly (readonly [string, string])[]): string[] {
  return ['', 'Options:', indent(formatTable(options)), '', ...TOKEN_SOURCES, '', 'Exit codes:', indent(formatTable(EXIT_CODES))];
}
