// Shared by the benchmarks: wait for a child's stdout line (a ready line, a log event) instead of
// sleeping, and nearest-rank percentiles.
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** Resolves with the first stdout line `pick` accepts; rejects if the child exits first or the time runs out. */
export function waitForLine<T>(child: ChildProcess, what: string, pick: (line: string) => T | undefined, timeoutMs = 120_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${what} within ${timeoutMs / 1000} s`)), timeoutMs);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited (${String(code)}) before ${what}`)); });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const value = pick(line);
      if (value !== undefined) { clearTimeout(timer); resolve(value); }
    });
  });
}

/** Nearest-rank percentile: with 1 sample p50 = p95 = that sample, nothing is interpolated. */
export function percentile(samples: readonly number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? 0;
}
