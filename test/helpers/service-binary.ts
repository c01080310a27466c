// The service binary as operators run it: `node --import tsx src/main.ts` as a child process, its JSON
// log read line by line so tests wait on log events instead of sleeping.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { PROJECT_ROOT } from './fixtures.js';

const MAIN = path.join(PROJECT_ROOT, 'src', 'main.ts');

export function startBinary(env: Record<string, string>): { child: ChildProcess; lines: AsyncIterableIterator<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    cwd: PROJECT_ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return { child, lines };
}

/** Reads log lines until one has this message; fails if the service exits first. */
export async function waitForLog(lines: AsyncIterableIterator<string>, message: string): Promise<Record<string, unknown>> {
  for (;;) {
    const next = await lines.next();
    if (next.done === true) throw new Error(`the service exited before logging "${message}"`);
    const entry = JSON.parse(next.value) as Record<string, unknown>;
    if (entry.message === message) return entry;
  }
}
