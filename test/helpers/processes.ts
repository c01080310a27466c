// Finds live processes by a tag in their environment, so each test can prove it left nothing behind
// (its own processes only: test files run in parallel).
import { readFileSync, readdirSync } from 'node:fs';

function isLive(pid: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Live pids whose environment holds `NAME=VALUE`. */
export function pidsWithEnv(entry: string): number[] {
  const found: number[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
      if (environ.includes(entry) && isLive(pid)) found.push(Number(pid));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return found;
}

export function isPidLive(pid: number): boolean {
  return isLive(String(pid));
}
