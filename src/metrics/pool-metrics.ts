// The server pool: instances by state and memory, starts, restarts, health probes, directory
// releases and (isolated pools) evictions.
import client from 'prom-client';
import { DISPOSAL_REASONS, HEALTH_FAILURE_CLASSES, INSTANCE_STATES, MEMORY_FULL_ACTIONS, RESTART_REASONS } from '../contracts/vocabulary.js';
import { liveGauge, type MetricScope } from './metric-kit.js';

export const HEALTH_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
export const START_DURATION_BUCKETS = [0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120];

export function createPoolMetrics(scope: MetricScope) {
  const registers = [scope.registry];
  const serverRestarts = new client.Counter({
    name: 'opencode_manager_server_restarts_total',
    help: 'Server instance restarts, by reason (exit, health, memory, start_failed, retry after failed).',
    labelNames: ['reason'] as const,
    registers,
  });
  const healthFailures = new client.Counter({
    name: 'opencode_manager_health_check_failures_total',
    help: 'Failed health probes of server instances, by class (timeout, refused, bad_status, error).',
    labelNames: ['class'] as const,
    registers,
  });
  const healthDuration = new client.Histogram({
    name: 'opencode_manager_health_check_duration_seconds',
    help: 'Latency of health probes of server instances.',
    buckets: HEALTH_DURATION_BUCKETS,
    registers,
  });
  const directoryDisposals = new client.Counter({
    name: 'opencode_manager_directory_disposals_total',
    help: 'Workspace directories released from a server instance with /instance/dispose, by reason.',
    labelNames: ['reason'] as const,
    registers,
  });
  const serverStartDuration = new client.Histogram({
    name: 'opencode_manager_server_start_duration_seconds',
    help: 'Time from spawning opencode serve to a healthy instance.',
    buckets: START_DURATION_BUCKETS,
    registers,
  });
  const serverStartWait = new client.Histogram({
    name: 'opencode_manager_server_start_wait_seconds',
    help: 'Time a server start waited for its turn (OCPM_MAX_CONCURRENT_STARTS) before opencode serve was spawned.',
    buckets: [0, ...START_DURATION_BUCKETS],
    registers,
  });
  new client.Gauge({
    name: 'opencode_manager_server_starts_waiting',
    help: 'Server starts waiting for their turn (OCPM_MAX_CONCURRENT_STARTS).',
    registers,
    collect() {
      this.set(scope.sources()?.serverStartsWaiting() ?? 0);
    },
  });
  /** OCPM_MAX_INSTANCE_RSS_MB in bytes while server mode runs (0: no limit applies), for alerts near it. */
  const instanceMemoryLimit = new client.Gauge({
    name: 'opencode_manager_instance_memory_limit_bytes',
    help: 'Resident memory of one server instance process tree above which it is recycled (OCPM_MAX_INSTANCE_RSS_MB); 0 when no limit applies.',
    registers,
  });
  /** Isolated pools: a slot stopped one session's server to serve another (the pool is too small when this climbs). */
  const serverEvictions = new client.Counter({
    name: 'opencode_manager_server_evictions_total',
    help: 'Isolated pools: server instances stopped to give their slot to another session.',
    registers,
  });
  /** Isolated pools: a session's server stopped because the session was idle (OCPM_SESSION_IDLE_STOP_MS). */
  const serverIdleStops = new client.Counter({
    name: 'opencode_manager_server_idle_stops_total',
    help: "Isolated pools: sessions' server instances stopped after OCPM_SESSION_IDLE_STOP_MS without a turn.",
    registers,
  });
  /** Isolated pools: what happened when one more server did not fit under OCPM_MEMORY_LIMIT_MB. */
  const memoryFull = new client.Counter({
    name: 'opencode_manager_memory_full_total',
    help: 'Isolated pools: a session needed a server and one more did not fit under OCPM_MEMORY_LIMIT_MB, by what happened (evicted: an idle server stopped for it; waited; per_message).',
    labelNames: ['action'] as const,
    registers,
  });
  liveGauge(
    scope,
    'opencode_manager_memory_limit_bytes',
    'OCPM_MEMORY_LIMIT_MB (or 90% of the cgroup limit) in bytes while an isolated pool applies it; 0 when no limit applies.',
    (s) => s.memoryLimit()?.limitBytes ?? 0,
  );
  liveGauge(
    scope,
    'opencode_manager_memory_used_bytes',
    'What the service holds as counted against OCPM_MEMORY_LIMIT_MB: its own process, per-message runs and every server tree (a server not yet measured at the estimate); 0 when no limit applies.',
    (s) => s.memoryLimit()?.usedBytes ?? 0,
  );
  new client.Gauge({
    name: 'opencode_manager_server_instances',
    help: 'Server instances by state.',
    labelNames: ['state'] as const,
    registers,
    collect() {
      const counts = scope.sources()?.serverInstances() ?? {};
      for (const state of INSTANCE_STATES) this.set({ state }, counts[state] ?? 0);
    },
  });
  new client.Gauge({
    name: 'opencode_manager_server_instance_resident_memory_bytes',
    help: 'Resident memory of one server instance process tree (opencode serve and its tools), by pool slot; compare with opencode_manager_instance_memory_limit_bytes.',
    labelNames: ['server'] as const,
    registers,
    collect() {
      for (const { server, bytes } of scope.sources()?.serverMemory() ?? []) this.set({ server }, bytes);
    },
  });
  for (const reason of RESTART_REASONS) serverRestarts.inc({ reason }, 0);
  for (const failure of HEALTH_FAILURE_CLASSES) healthFailures.inc({ class: failure }, 0);
  for (const reason of DISPOSAL_REASONS) directoryDisposals.inc({ reason }, 0);
  for (const action of MEMORY_FULL_ACTIONS) memoryFull.inc({ action }, 0);
  return {
    serverRestarts,
    healthFailures,
    healthDuration,
    directoryDisposals,
    serverStartDuration,
    serverStartWait,
    instanceMemoryLimit,
    serverEvictions,
    serverIdleStops,
    memoryFull,
  };
}
