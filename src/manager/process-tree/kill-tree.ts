// Ends a child and every descendant: SIGTERM to all, wait up to a grace period, SIGKILL what is left,
// and return only when nothing of the tree is alive.
import { setTimeout as delay } from 'node:timers/promises';
import { findTree, type TreeIdentity } from './find-tree.js';

const POLL_MS = 25;
/** After SIGKILL the kernel needs a moment; past this we report survivors instead of waiting forever. */
const SIGKILL_SETTLE_MS = 5000;

export interface KillTreeResult {
  /** Processes that were alive when the kill began. */
  readonly found: number;
  /** Processes that had to be SIGKILLed after the grace period. */
  readonly forced: number;
  /** Processes still alive after SIGKILL (should be 0; non-zero means uninterruptible sleep). */
  readonly survivors: number[];
}

function signalAll(identity: TreeIdentity, pids: readonly number[], signal: NodeJS.Signals): void {
  if (identity.rootAlive()) {
    try {
      process.kill(-identity.rootPid, signal);
    } catch {
      // The group is already empty.
    }
  }
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // Gone between the scan and the signal.
    }
  }
}

async function waitUntilGone(identity: TreeIdentity, ms: number): Promise<number[]> {
  const deadline = Date.now() + ms;
  let alive = findTree(identity);
  while (alive.length > 0 && Date.now() < deadline) {
    await delay(POLL_MS);
    alive = findTree(identity);
  }
  return alive;
}

export async function killTree(identity: TreeIdentity, graceMs: number): Promise<KillTreeResult> {
  const initial = findTree(identity);
  if (initial.length === 0) return { found: 0, forced: 0, survivors: [] };
  signalAll(identity, initial, 'SIGTERM');
  let alive = await waitUntilGone(identity, graceMs);
  const forced = alive.length;
  if (forced > 0) {
    signalAll(identity, alive, 'SIGKILL');
    alive = await waitUntilGone(identity, SIGKILL_SETTLE_MS);
  }
  return { found: initial.length, forced, survivors: alive };
}

/** Last resort when the service itself is exiting: SIGKILL the whole tree without waiting. */
export function killTreeNow(identity: TreeIdentity): void {
  signalAll(identity, findTree(identity), 'SIGKILL');
}
