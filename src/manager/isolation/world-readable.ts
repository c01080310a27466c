// The parts of a system directory (/etc) that any user may read. A sandbox grants these instead of
// the whole directory: where the service runs as root, the sandboxed agent is uid 0 without
// capabilities, which still reads root-owned files by their owner bits (/etc/shadow is 0640 root).
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const OTHERS_READ = 0o004;
const OTHERS_EXEC = 0o001;

interface Walk {
  /** Entries left to examine; past it a subtree counts as not readable (fail closed). */
  budget: number;
}

/** [paths, whole]: the readable paths beneath `p`, and whether that is `p` entirely. */
function walk(p: string, state: Walk): [string[], boolean] {
  if (state.budget-- <= 0) return [[], false];
  let stat;
  try {
    stat = statSync(p);
  } catch {
    return [[], false];
  }
  if ((stat.mode & OTHERS_READ) === 0) return [[], false];
  if (!stat.isDirectory()) return [[p], true];
  if ((stat.mode & OTHERS_EXEC) === 0) return [[], false];
  let names: string[];
  try {
    names = readdirSync(p);
  } catch {
    return [[], false];
  }
  const parts = names.map((name) => walk(path.join(p, name), state));
  if (parts.every(([, whole]) => whole)) return [[p], true];
  return [parts.flatMap(([paths]) => paths), false];
}

/** Every world-readable path beneath `root`, a fully readable directory as one entry. */
export function worldReadablePaths(root: string, budget = 5000): string[] {
  return walk(root, { budget })[0];
}
