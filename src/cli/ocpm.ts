// The ocpm process: runs the CLI on this process's argv and environment and exits with its code.
// bin/ocpm.mjs loads this file (compiled, or through tsx in a checkout).
import process from 'node:process';
import { runCli } from './main.js';

process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  cwd: process.cwd(),
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
});
