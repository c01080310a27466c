// The CLI's exit codes and the one error it throws: main prints `ocpm: <message>` and exits with the code.

/** Exit codes, documented in `ocpm --help` and docs/cli.md. */
export const EXIT = {
  ok: 0,
  /** The service answered an error (4xx/5xx). */
  serviceError: 1,
  /** Bad arguments or an unknown command. */
  usage: 2,
  /** The service cannot be reached, or no API token was found. */
  unreachable: 3,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
    /** The service's error code (`session_not_found`, …) when the service answered the error. */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const usageError = (message: string): CliError => new CliError(EXIT.usage, message);

/** Error text on one line: service messages may carry a stderr tail with line breaks. */
export function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}
