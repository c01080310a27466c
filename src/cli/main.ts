// runCli: argv in, exit code out. Everything it touches (env, cwd, output, clock) is passed in, so
// the unit tests call it directly; src/cli/ocpm.ts is the process around it.
import { errorMessage } from '../util/guards.js';
import { parseArgs, type ParsedArgs } from './args.js';
import { CliError, EXIT, oneLine, usageError, type ExitCode } from './cli-error.js';
import { createApiClient, type UrlSource } from './client.js';
import type { Command } from './command.js';
import { COMMANDS, findCommand } from './commands/index.js';
import { DEFAULT_URL, commandHelp, overviewHelp } from './help.js';
import { findToken, resolveToken } from './token.js';

export interface CliIo {
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly now?: () => number;
}

const GLOBAL_OPTION_NAMES = new Set(['url', 'token-file', 'json', 'help']);

export async function runCli(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  try {
    return await dispatch(parseArgs(argv), io);
  } catch (error) {
    if (error instanceof CliError) {
      io.stderr(`ocpm: ${oneLine(error.message)}\n`);
      if (error.exitCode === EXIT.usage) io.stderr('Run `ocpm --help` for usage.\n');
      return error.exitCode;
    }
    // A bug of the CLI itself: still one line, no stack (the service answered; exit 1 would mislead).
    io.stderr(`ocpm: internal error: ${oneLine(errorMessage(error))}\n`);
    return EXIT.serviceError;
  }
}

async function dispatch(parsed: ParsedArgs, io: CliIo): Promise<ExitCode> {
  const print = (text: string): void => io.stdout(`${text}\n`);
  if (parsed.command === undefined) {
    if (!parsed.options.has('help')) throw usageError(`no command given (one of ${COMMANDS.map((command) => command.name).join(', ')})`);
    print(overviewHelp());
    return EXIT.ok;
  }
  if (parsed.command === 'help') {
    print(helpFor(parsed.positionals));
    return EXIT.ok;
  }
  const command = findCommand(parsed.command);
  if (command === undefined) throw usageError(`unknown command ${JSON.stringify(parsed.command)}`);
  if (parsed.options.has('help')) {
    print(commandHelp(command));
    return EXIT.ok;
  }
  checkArguments(command, parsed);

  const flagUrl = stringOption(parsed, 'url');
  const urlSource: UrlSource = flagUrl !== undefined ? '--url' : io.env.OCPM_URL ? 'OCPM_URL' : 'default';
  const url = flagUrl ?? (io.env.OCPM_URL || DEFAULT_URL);
  // Looked up at the first request, so a bad argument is reported (exit 2) before a missing token (exit 3).
  // A command that works without one (the status) sends it when one is found.
  let token: { value: string | undefined } | undefined;
  const bearer = (): string | undefined => {
    const sources = { env: io.env, tokenFile: stringOption(parsed, 'token-file'), cwd: io.cwd };
    token ??= { value: command.needsToken ? resolveToken(sources) : findToken(sources) };
    return token.value;
  };
  const api = createApiClient(url, bearer, { urlSource });
  await command.run({ api, json: parsed.options.has('json'), args: parsed.positionals, options: parsed.options, now: (io.now ?? Date.now)(), print });
  return EXIT.ok;
}

function helpFor(topics: readonly string[]): string {
  if (topics.length === 0) return overviewHelp();
  const command = findCommand(topics[0] ?? '');
  if (command === undefined || topics.length > 1) throw usageError(`no help for ${JSON.stringify(topics.join(' '))}: unknown command`);
  return commandHelp(command);
}

function checkArguments(command: Command, parsed: ParsedArgs): void {
  const allowed = new Set([...GLOBAL_OPTION_NAMES, ...command.options.map((option) => option.name)]);
  const foreign = [...parsed.options.keys()].find((name) => !allowed.has(name));
  if (foreign !== undefined) throw usageError(`${command.name} takes no option --${foreign}`);
  const given = parsed.positionals.length;
  if (given < command.arity || given > command.arity + (command.optionalArity ?? 0)) {
    throw usageError(`usage: ocpm ${command.usage} (got ${given} argument${given === 1 ? '' : 's'})`);
  }
}

function stringOption(parsed: ParsedArgs, name: string): string | undefined {
  const value = parsed.options.get(name);
  return typeof value === 'string' ? value : undefined;
}
