// Helpers shared by the metric modules: the gauge sources the manager binds, and a gauge read at scrape time.
import client from 'prom-client';
import type { InstanceState } from '../contracts/vocabulary.js';

/** Live numbers the gauges read at scrape time. */
export interface GaugeSources {
  activeProcesses(): number;
  activeStreams(): number;
  pendingRequests(): number;
  sessions(): number;
  activeSessions(): number;
  /** Server instances per state (server mode; all zero otherwise). */
  serverInstances(): Partial<Record<InstanceState, number>>;
  /** Resident bytes of the process trees of each kind, read from /proc. */
  residentMemory(kind: 'run' | 'serve' | 'cli'): number;
  /** Resident bytes of each server instance's process tree by pool slot (`serve-0`, …), as last measured. */
  serverMemory(): ReadonlyArray<{ server: string; bytes: number }>;
  /** Server starts waiting for their turn (OCPM_MAX_CONCURRENT_STARTS). */
  serverStartsWaiting(): number;
  /** Isolated pools under OCPM_MEMORY_LIMIT_MB: the limit and what the service holds against it (undefined: no limit). */
  memoryLimit(): { limitBytes: number; usedBytes: number } | undefined;
  /** Sessions with at least one pending permission request or question. */
  sessionsWaitingOnUser(): number;
  /** Seconds since the oldest pending request was asked (0 when none). */
  oldestUserWaitSeconds(): number;
}

/** Where each metric module registers, and the sources its live gauges read (undefined until bound). */
export interface MetricScope {
  readonly registry: client.Registry;
  readonly sources: () => GaugeSources | undefined;
}

export function liveGauge(scope: MetricScope, name: string, help: string, read: (s: GaugeSources) => number): void {
  new client.Gauge({
    name,
    help,
    registers: [scope.registry],
    collect() {
      const sources = scope.sources();
      this.set(sources === undefined ? 0 : read(sources));
    },
  });
}
