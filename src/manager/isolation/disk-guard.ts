// The disk a session's workspace takes, measured after each of its turns (in the background, never
// following links), and the refusal of its next message while it is over OCPM_SESSION_DISK_MB. One
// file is bounded by the sandbox itself (RLIMIT_FSIZE); this bounds the sum between turns.
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { OcpmError } from '../../errors/errors.js';

const MIB = 1024 * 1024;
/** A walk stops here (and counts what it saw): a huge tree must not keep the service busy. */
const MAX_ENTRIES = 200_000;

/** Bytes on disk beneath `dir` (allocated blocks, so sparse files count what they hold), up to `stopAbove`. */
export async function diskUsage(dir: string, stopAbove: number): Promise<number> {
  let total = 0;
  let entries = 0;
  const pending = [dir];
  while (pending.length > 0 && total <= stopAbove && entries < MAX_ENTRIES) {
    const current = pending.pop()!;
    let names: string[];
    try {
      names = await readdir(current);
    } catch {
      continue;
    }
    for (const name of names) {
      const p = path.join(current, name);
      entries += 1;
      try {
        const stat = await lstat(p);
        total += stat.blocks * 512;
        if (stat.isDirectory()) pending.push(p);
      } catch {
        // Gone meanwhile.
      }
    }
  }
  return total;
}

export class DiskGuard {
  private readonly used = new Map<string, number>();
  private readonly measuring = new Map<string, Promise<void>>();

  constructor(private readonly limitMb: number) {}

  /** Measures the workspace after a turn; a later admission waits for it. */
  measure(sessionId: string, workspace: string): Promise<void> {
    const run = diskUsage(workspace, this.limitMb * MIB).then((bytes) => {
      this.used.set(sessionId, bytes);
    });
    const settled = run.finally(() => {
      if (this.measuring.get(sessionId) === settled) this.measuring.delete(sessionId);
    });
    this.measuring.set(sessionId, settled);
    return settled;
  }

  /** Waits for a measurement still running for the session. */
  async settled(sessionId: string): Promise<void> {
    await this.measuring.get(sessionId)?.catch(() => undefined);
  }

  /** Whether the last measurement was over the limit. */
  isOver(sessionId: string): boolean {
    return (this.used.get(sessionId) ?? 0) > this.limitMb * MIB;
  }

  /**
   * Before a message of a session that was over the limit: measures again (the web app may have
   * freed space since), so a refusal never outlives its cause.
   */
  async refresh(sessionId: string, workspace: string): Promise<void> {
    await this.settled(sessionId);
    if (this.isOver(sessionId)) await this.measure(sessionId, workspace).catch(() => undefined);
  }

  /** Throws 429 `resource_limit` while the session's workspace is over the limit. */
  assertWithin(sessionId: string): void {
    const bytes = this.used.get(sessionId) ?? 0;
    if (bytes <= this.limitMb * MIB) return;
    throw new OcpmError(
      'resource_limit',
      `disk: the session's workspace holds ${(bytes / MIB).toFixed(1)} MiB, over OCPM_SESSION_DISK_MB (${this.limitMb} MiB); free space in it to continue`,
      { details: { limit: 'disk', usedBytes: bytes, limitBytes: this.limitMb * MIB } },
    );
  }

  forget(sessionId: string): void {
    this.used.delete(sessionId);
  }
}
