// opencode processes: spawns by kind and outcome, how many run, their trees' memory, and the
// orphans of a crashed previous run reaped at boot.
import client from 'prom-client';
import { liveGauge, type MetricScope } from './metric-kit.js';

/**
 * The kinds of opencode child the metrics count: `run` (one per message), `serve` (a server instance)
 * and `cli` (a command the service runs for itself: the catalog listing, a conversation's export or import).
 */
export const SPAWN_KINDS = ['run', 'serve', 'cli'] as const;
export type SpawnKind = (typeof SPAWN_KINDS)[number];

export function createProcessMetrics(scope: MetricScope) {
  const registers = [scope.registry];
  const spawns = new client.Counter({
    name: 'opencode_manager_process_spawns_total',
    help: 'opencode processes the manager tried to start, by kind (run = one per message, serve = server instance, cli = a listing, export or import command of the service) and outcome.',
    labelNames: ['kind', 'outcome'] as const,
    registers,
  });
  const orphansReaped = new client.Counter({
    name: 'opencode_manager_orphans_reaped_total',
    help: 'Processes left by a previous run of the service (it crashed) that were found and killed at boot.',
    registers,
  });
  new client.Gauge({
    name: 'opencode_manager_process_resident_memory_bytes',
    help: 'Resident memory of the opencode process trees (opencode and its tools), by kind.',
    labelNames: ['kind'] as const,
    registers,
    collect() {
      for (const kind of SPAWN_KINDS) this.set({ kind }, scope.sources()?.residentMemory(kind) ?? 0);
    },
  });
  liveGauge(scope, 'opencode_manager_active_processes', 'opencode processes running now.', (s) => s.activeProcesses());
  for (const kind of SPAWN_KINDS) {
    for (const outcome of ['started', 'failed'] as const) spawns.inc({ kind, outcome }, 0);
  }
  return { spawns, orphansReaped };
}
