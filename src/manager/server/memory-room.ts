// Whether one more isolated server fits under OCPM_MEMORY_LIMIT_MB. The service counts what it holds
// now (its own process and per-message runs, read when asked; each server's process tree as last
// probed, a server not yet probed at the estimate) plus the estimate of a new server: the largest
// footprint a server of this pool had when it turned ready (a server grows with use;
// its start is what the next one costs), 350 MB before any was measured.
const MB = 1024 * 1024;
export const DEFAULT_SERVER_ESTIMATE_BYTES = 350 * MB;

export interface MemoryStatus {
  /** OCPM_MEMORY_LIMIT_MB (or the cgroup's default) in bytes. */
  readonly limitBytes: number;
  /** What the service holds now, as counted against the limit. */
  readonly usedBytes: number;
  /** What one more server is counted at. */
  readonly serverEstimateBytes: number;
  /** Turns waiting for memory to start their session's server (OCPM_WHEN_MEMORY_FULL=wait). */
  readonly waiting: number;
}

export class MemoryRoom {
  private largestStart = 0;
  private waiters = 0;

  /** `limitBytes` undefined: no limit. `othersBytes`: the service's own process and its per-message runs. */
  constructor(
    readonly limitBytes: number | undefined,
    private readonly othersBytes: () => number,
  ) {}

  get serverEstimateBytes(): number {
    return this.largestStart > 0 ? this.largestStart : DEFAULT_SERVER_ESTIMATE_BYTES;
  }

  /** A server's tree at its first probe after it started. */
  recordStartFootprint(bytes: number): void {
    if (bytes > 0) this.largestStart = Math.max(this.largestStart, bytes);
  }

  /** `servers`: each live server's last measured tree, 0 for one not measured yet (counted at the estimate). */
  usedBytes(servers: readonly number[]): number {
    return this.othersBytes() + servers.reduce((sum, bytes) => sum + (bytes > 0 ? bytes : this.serverEstimateBytes), 0);
  }

  /** Whether one more server fits (always, without a limit). */
  fitsOneMore(servers: readonly number[]): boolean {
    return this.limitBytes === undefined || this.usedBytes(servers) + this.serverEstimateBytes <= this.limitBytes;
  }

  /** Counts a turn waiting for memory until the returned function is called. */
  waiting(): () => void {
    this.waiters += 1;
    let done = false;
    return () => {
      if (!done) this.waiters -= 1;
      done = true;
    };
  }

  status(servers: readonly number[]): MemoryStatus | undefined {
    if (this.limitBytes === undefined) return undefined;
    return { limitBytes: this.limitBytes, usedBytes: this.usedBytes(servers), serverEstimateBytes: this.serverEstimateBytes, waiting: this.waiters };
  }
}

/** OCPM_MEMORY_LIMIT_MB in bytes: unset, 90% of the cgroup's limit (none without one); 0, none. */
export function memoryLimitBytes(settingMb: number | undefined, cgroupLimitBytes: number | undefined): number | undefined {
  if (settingMb === undefined) return cgroupLimitBytes === undefined ? undefined : Math.floor(cgroupLimitBytes * 0.9);
  return settingMb === 0 ? undefined : settingMb * MB;
}
