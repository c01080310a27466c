// What every command is: its help text, what it takes, and run(). The table of them is commands/index.ts.
import type { ParsedArgs } from './args.js';
import type { ApiClient } from './client.js';

export interface CommandOption {
  /** `--state S` is written `state` with value `S`. */
  readonly name: string;
  readonly value?: string;
  readonly help: string;
}

export interface CommandContext {
  readonly api: ApiClient;
  /** --json: print the service's JSON answer instead of a table. */
  readonly json: boolean;
  readonly args: readonly string[];
  readonly options: ParsedArgs['options'];
  /** Now, in ms since the epoch: ages in tables are relative to it. */
  readonly now: number;
  print(text: string): void;
}

export interface Command {
  readonly name: string;
  /** `session <id>`: the name and its positional arguments. */
  readonly usage: string;
  readonly summary: string;
  /** More lines for `ocpm help <command>`. */
  readonly details: readonly string[];
  readonly options: readonly CommandOption[];
  /** Positional arguments it needs. */
  readonly arity: number;
  /** Positional arguments it may take after those (`pending [session]`); none when left out. */
  readonly optionalArity?: number;
  /**
   * false for the status-based commands: GET /api/opencode/status answers without a token (its
   * summary). They still send the token when one is found, and then get the full status.
   */
  readonly needsToken: boolean;
  run(context: CommandContext): Promise<void>;
}

export function printJson(context: CommandContext, body: unknown): void {
  context.print(JSON.stringify(body, null, 2));
}

/** Path segment of an id the user typed: the API refuses odd ids itself, this only keeps the URL whole. */
export const segment = (id: string): string => encodeURIComponent(id);
