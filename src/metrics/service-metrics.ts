// The service itself: build info, HTTP requests, isolation, sessions, client streams and the
// failures of its housekeeping.
import client from 'prom-client';
import { HOUSEKEEPING_TASKS } from '../util/housekeeping.js';
import { liveGauge, type MetricScope } from './metric-kit.js';

export const HTTP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export function createServiceMetrics(scope: MetricScope) {
  const registers = [scope.registry];
  const buildInfo = new client.Gauge({
    name: 'opencode_manager_build_info',
    help: 'Always 1; labels give the service version, the opencode version and the mode.',
    labelNames: ['version', 'opencode_version', 'mode'] as const,
    registers,
  });
  const httpDuration = new client.Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP requests by method, route template and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: HTTP_DURATION_BUCKETS,
    registers,
  });
  /** 1 while every opencode child runs in its session's sandbox (OCPM_ISOLATION), 0 otherwise. */
  const isolationEnforced = new client.Gauge({
    name: 'opencode_manager_isolation_enforced',
    help: 'Whether every opencode child runs confined to its own session (1) or not (0): OCPM_ISOLATION and the kernel.',
    registers,
  });
  /** Background work that failed (logged as `Housekeeping task failed`), by task; see HOUSEKEEPING_TASKS. */
  const housekeepingErrors = new client.Counter({
    name: 'opencode_manager_housekeeping_errors_total',
    help: "Failures of the service's own background work (removals, reaping, probes, restarts), and rejections nobody handled, by task.",
    labelNames: ['task'] as const,
    registers,
  });
  for (const task of HOUSEKEEPING_TASKS) housekeepingErrors.inc({ task }, 0);
  liveGauge(scope, 'opencode_manager_active_streams', 'SSE streams open to clients now.', (s) => s.activeStreams());
  liveGauge(scope, 'opencode_manager_sessions', 'Sessions registered.', (s) => s.sessions());
  liveGauge(scope, 'opencode_manager_active_sessions', 'Sessions with a message within OCPM_SESSION_IDLE_MS.', (s) => s.activeSessions());
  return {
    buildInfo,
    httpDuration,
    isolationEnforced,
    housekeepingErrors,
    setBuildInfo({ version, opencodeVersion, mode }: { version: string; opencodeVersion: string; mode: string }): void {
      buildInfo.reset();
      buildInfo.set({ version, opencode_version: opencodeVersion, mode }, 1);
    },
  };
}
