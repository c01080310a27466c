// One prom-client Registry per service (never the global one) and every metric definition.
// No label carries a session id, a path or user text: label values come from small fixed sets.
import client from 'prom-client';

export type CommandMode = 'per-message' | 'server';
export type CommandOutcome = 'success' | 'error' | 'timeout' | 'aborted';
export type SpawnKind = 'run' | 'serve';

export const COMMAND_MODES: readonly CommandMode[] = ['per-message', 'server'];
export const COMMAND_OUTCOMES: readonly CommandOutcome[] = ['success', 'error', 'timeout', 'aborted'];

/** 0.05 s to 30 min: a cached server answer to a long agent turn. */
export const COMMAND_DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800];
export const HEALTH_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
export const START_DURATION_BUCKETS = [0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120];
export const SERVER_STATES = ['idle', 'starting', 'ready', 'backoff', 'stopping', 'stopped', 'failed'] as const;
export const RESTART_REASONS = ['exit', 'health', 'memory', 'start_failed', 'retry'] as const;
export const HEALTH_FAILURE_CLASSES = ['timeout', 'refused', 'bad_status', 'error'] as const;
export const DISPOSAL_REASONS = ['idle', 'session_deleted'] as const;
export const REJECT_REASONS = ['queue_full', 'session_queue_full', 'queue_timeout', 'draining'] as const;
export const QUEUE_WAIT_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
export const HTTP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** Live numbers the gauges read at scrape time. */
export interface GaugeSources {
  activeProcesses(): number;
  activeStreams(): number;
  pendingRequests(): number;
  sessions(): number;
  activeSessions(): number;
  /** Server instances per state (server mode; all zero otherwise). */
  serverInstances(): Partial<Record<(typeof SERVER_STATES)[number], number>>;
  /** Resident bytes of the process trees of each kind, read from /proc. */
  residentMemory(kind: SpawnKind): number;
  /** Resident bytes of each server instance's process tree by pool slot (`serve-0`, …), as last measured. */
  serverMemory(): ReadonlyArray<{ server: string; bytes: number }>;
}

export interface Metrics {
  readonly registry: client.Registry;
  readonly spawns: client.Counter<'kind' | 'outcome'>;
  readonly commands: client.Counter<'mode' | 'outcome'>;
  readonly commandDuration: client.Histogram<'mode' | 'outcome'>;
  readonly buildInfo: client.Gauge<'version' | 'opencode_version' | 'mode'>;
  readonly httpDuration: client.Histogram<'method' | 'route' | 'status_code'>;
  readonly serverRestarts: client.Counter<'reason'>;
  readonly healthFailures: client.Counter<'class'>;
  readonly healthDuration: client.Histogram;
  readonly directoryDisposals: client.Counter<'reason'>;
  readonly serverStartDuration: client.Histogram;
  readonly queueWait: client.Histogram;
  readonly rejected: client.Counter<'reason'>;
  readonly orphansReaped: client.Counter;
  /** OCPM_MAX_INSTANCE_RSS_MB in bytes while server mode runs (0: no limit applies), for alerts near it. */
  readonly instanceMemoryLimit: client.Gauge;
  /** 1 while every opencode child runs in its session's sandbox (OCPM_ISOLATION), 0 otherwise. */
  readonly isolationEnforced: client.Gauge;
  /** Isolated pools: a slot stopped one session's server to serve another (the pool is too small when this climbs). */
  readonly serverEvictions: client.Counter;
  /** Points the live gauges at their sources (the manager, once it exists). */
  bindGauges(sources: GaugeSources): void;
  setBuildInfo(labels: { version: string; opencodeVersion: string; mode: string }): void;
}

export function createMetrics(options: { prefix?: string; collectDefault?: boolean } = {}): Metrics {
  const registry = new client.Registry();
  if (options.collectDefault !== false) client.collectDefaultMetrics({ register: registry });
  let sources: GaugeSources | undefined;

  const liveGauge = (name: string, help: string, read: (s: GaugeSources) => number): void => {
    new client.Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(sources === undefined ? 0 : read(sources));
      },
    });
  };

  const spawns = new client.Counter({
    name: 'opencode_manager_process_spawns_total',
    help: 'opencode processes the manager tried to start, by kind (run = one per message, serve = server instance) and outcome.',
    labelNames: ['kind', 'outcome'] as const,
    registers: [registry],
  });
  const commands = new client.Counter({
    name: 'opencode_manager_commands_total',
    help: 'Turns (messages) the manager ran, by mode and outcome.',
    labelNames: ['mode', 'outcome'] as const,
    registers: [registry],
  });
  const commandDuration = new client.Histogram({
    name: 'opencode_manager_command_duration_seconds',
    help: 'Wall time of a turn from start to result, by mode and outcome.',
    labelNames: ['mode', 'outcome'] as const,
    buckets: COMMAND_DURATION_BUCKETS,
    registers: [registry],
  });
  const buildInfo = new client.Gauge({
    name: 'opencode_manager_build_info',
    help: 'Always 1; labels give the service version, the opencode version and the mode.',
    labelNames: ['version', 'opencode_version', 'mode'] as const,
    registers: [registry],
  });
  const httpDuration = new client.Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP requests by method, route template and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: HTTP_DURATION_BUCKETS,
    registers: [registry],
  });
  const serverRestarts = new client.Counter({
    name: 'opencode_manager_server_restarts_total',
    help: 'Server instance restarts, by reason (exit, health, memory, start_failed, retry after failed).',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const healthFailures = new client.Counter({
    name: 'opencode_manager_health_check_failures_total',
    help: 'Failed health probes of server instances, by class (timeout, refused, bad_status, error).',
    labelNames: ['class'] as const,
    registers: [registry],
  });
  const healthDuration = new client.Histogram({
    name: 'opencode_manager_health_check_duration_seconds',
    help: 'Latency of health probes of server instances.',
    buckets: HEALTH_DURATION_BUCKETS,
    registers: [registry],
  });
  const directoryDisposals = new client.Counter({
    name: 'opencode_manager_directory_disposals_total',
    help: 'Workspace directories released from a server instance with /instance/dispose, by reason.',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const serverStartDuration = new client.Histogram({
    name: 'opencode_manager_server_start_duration_seconds',
    help: 'Time from spawning opencode serve to a healthy instance.',
    buckets: START_DURATION_BUCKETS,
    registers: [registry],
  });
  const queueWait = new client.Histogram({
    name: 'opencode_manager_queue_wait_seconds',
    help: 'Time a message waited for its turn (0 when it started at once).',
    buckets: QUEUE_WAIT_BUCKETS,
    registers: [registry],
  });
  const rejected = new client.Counter({
    name: 'opencode_manager_rejected_total',
    help: 'Messages refused or dropped before they started, by reason (queue_full, session_queue_full, queue_timeout, draining).',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const orphansReaped = new client.Counter({
    name: 'opencode_manager_orphans_reaped_total',
    help: 'Processes left by a previous run of the service (it crashed) that were found and killed at boot.',
    registers: [registry],
  });
  const instanceMemoryLimit = new client.Gauge({
    name: 'opencode_manager_instance_memory_limit_bytes',
    help: 'Resident memory of one server instance process tree above which it is recycled (OCPM_MAX_INSTANCE_RSS_MB); 0 when no limit applies.',
    registers: [registry],
  });
  const isolationEnforced = new client.Gauge({
    name: 'opencode_manager_isolation_enforced',
    help: 'Whether every opencode child runs confined to its own session (1) or not (0): OCPM_ISOLATION and the kernel.',
    registers: [registry],
  });
  const serverEvictions = new client.Counter({
    name: 'opencode_manager_server_evictions_total',
    help: 'Isolated pools: server instances stopped to give their slot to another session.',
    registers: [registry],
  });
  new client.Gauge({
    name: 'opencode_manager_server_instances',
    help: 'Server instances by state.',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const counts = sources?.serverInstances() ?? {};
      for (const state of SERVER_STATES) this.set({ state }, counts[state] ?? 0);
    },
  });
  new client.Gauge({
    name: 'opencode_manager_process_resident_memory_bytes',
    help: 'Resident memory of the opencode process trees (opencode and its tools), by kind.',
    labelNames: ['kind'] as const,
    registers: [registry],
    collect() {
      for (const kind of ['run', 'serve'] as const) this.set({ kind }, sources?.residentMemory(kind) ?? 0);
    },
  });
  new client.Gauge({
    name: 'opencode_manager_server_instance_resident_memory_bytes',
    help: 'Resident memory of one server instance process tree (opencode serve and its tools), by pool slot; compare with opencode_manager_instance_memory_limit_bytes.',
    labelNames: ['server'] as const,
    registers: [registry],
    collect() {
      for (const { server, bytes } of sources?.serverMemory() ?? []) this.set({ server }, bytes);
    },
  });
  liveGauge('opencode_manager_active_processes', 'opencode processes running now.', (s) => s.activeProcesses());
  liveGauge('opencode_manager_active_streams', 'SSE streams open to clients now.', (s) => s.activeStreams());
  liveGauge('opencode_manager_pending_requests', 'Messages waiting in the queue for their turn.', (s) => s.pendingRequests());
  liveGauge('opencode_manager_sessions', 'Sessions registered.', (s) => s.sessions());
  liveGauge('opencode_manager_active_sessions', 'Sessions with a message within OCPM_SESSION_IDLE_MS.', (s) => s.activeSessions());

  // Zero every known series up front so rates and ratios exist before the first event.
  for (const kind of ['run', 'serve'] as const) {
    for (const outcome of ['started', 'failed'] as const) spawns.inc({ kind, outcome }, 0);
  }
  for (const mode of COMMAND_MODES) {
    for (const outcome of COMMAND_OUTCOMES) commands.inc({ mode, outcome }, 0);
  }
  for (const reason of RESTART_REASONS) serverRestarts.inc({ reason }, 0);
  for (const failure of HEALTH_FAILURE_CLASSES) healthFailures.inc({ class: failure }, 0);
  for (const reason of DISPOSAL_REASONS) directoryDisposals.inc({ reason }, 0);
  for (const reason of REJECT_REASONS) rejected.inc({ reason }, 0);

  return {
    registry,
    spawns,
    commands,
    commandDuration,
    buildInfo,
    httpDuration,
    serverRestarts,
    healthFailures,
    healthDuration,
    directoryDisposals,
    serverStartDuration,
    queueWait,
    rejected,
    orphansReaped,
    instanceMemoryLimit,
    isolationEnforced,
    serverEvictions,
    bindGauges(next) {
      sources = next;
    },
    setBuildInfo({ version, opencodeVersion, mode }) {
      buildInfo.reset();
      buildInfo.set({ version, opencode_version: opencodeVersion, mode }, 1);
    },
  };
}
