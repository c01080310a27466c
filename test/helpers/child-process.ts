// Child processes of the tests and benchmarks: wait for a line a child prints (its ready line) instead
// of sleeping, and stop a child the way an operator would (SIGTERM, SIGKILL only if it hangs).
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Resolves when the child has exited (at once if it already has). */
export function exitOf(child: ChildProcess): Promise<ChildExit> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
}

/** Resolves with the first stdout line `pick` accepts; rejects if the child exits first or the time runs out. */
export function waitForLine<T>(child: ChildProcess, what: string, pick: (line: string) => T | undefined, timeoutMs = 120_000): Promise<T> {
  const stdout = child.stdout;
  if (stdout === null) return Promise.reject(new Error(`waiting for ${what}: the child's stdout is not a pipe`));
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: stdout });
    const done = (): void => {
      clearTimeout(timer);
      child.off('exit', onExit);
      lines.off('line', onLine);
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      done();
      reject(new Error(`exited (${String(code ?? signal)}) before ${what}`));
    };
    const onLine = (line: string): void => {
      const value = pick(line);
      if (value === undefined) return;
      done();
      resolve(value);
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no ${what} within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    child.once('exit', onExit);
    lines.on('line', onLine);
  });
}

/** SIGTERM, then SIGKILL after `killAfterMs` if it is still there; resolves with the exit and how long it took. */
export async function stopChild(child: ChildProcess, killAfterMs = 30_000): Promise<ChildExit & { readonly ms: number }> {
  const started = Date.now();
  const exited = exitOf(child);
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  const result = await exited;
  clearTimeout(timer);
  return { ...result, ms: Date.now() - started };
}
