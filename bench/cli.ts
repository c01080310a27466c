// The command line of a benchmark: its flags parsed with node:util's parseArgs, --help, and the usage
// on a wrong flag (exit 2).
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';

type Values<O extends ParseArgsOptionsConfig> = ReturnType<typeof parseArgs<{ options: O }>>['values'];

export interface BenchCli<V> {
  /** The parsed flags. */
  readonly opts: V;
  /** Prints the usage (stdout for 0, stderr otherwise) and exits with `code`. */
  readonly usage: (code: number) => never;
}

/** Parses the flags; `options` must define `help` (a boolean): --help prints the usage and exits 0. */
export function benchCli<const O extends ParseArgsOptionsConfig & { help: { type: 'boolean' } }>(usageText: string, options: O): BenchCli<Values<O>> {
  const usage = (code: number): never => {
    (code === 0 ? process.stdout : process.stderr).write(usageText);
    process.exit(code);
  };
  let opts: Values<O>;
  try {
    opts = parseArgs({ options }).values;
  } catch {
    return usage(2);
  }
  if ((opts as { help?: boolean }).help === true) usage(0);
  return { opts, usage };
}
