// The service's own endpoints under load, against the fake opencode: GET /api/opencode/status and
// GET /metrics with 1,000 registered sessions (autocannon), and the service's event-loop lag with no
// stream and with 100 SSE streams held open (plus the status latency while they are open).
// Usage: node --import tsx bench/endpoints.ts [--sessions 1000] [--streams 100] [--duration 10]
//        [--connections 10] [--mode server|per-message] [--lag-window 5] [--cpu-prof DIR]   (bench/README.md)
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { FAKE_OPENCODE } from '../test/helpers/fixtures.js';
import { call, openEventStream } from '../test/helpers/http.js';
import { series, sumBy } from '../test/helpers/metrics-text.js';
import { cpuMs, fakeOpencodeProcesses, rssMb } from '../test/helpers/processes.js';
import { startReadyService, stopService, type ReadyService } from '../test/helpers/service-binary.js';
import { waitFor } from '../test/helpers/wait-for.js';
import { benchCli } from './cli.js';
import { writeResults } from './results.js';

const ELD_RESOLUTION_MS = 10; // the sampling period of the lag histogram; prom-client uses the same
const WARMUP_S = 2; // an unmeasured autocannon run before each measured one (JIT, connection set-up)
const out = (line = ''): boolean => process.stdout.write(`${line}\n`);

const USAGE =
  'usage: node --import tsx bench/endpoints.ts [--sessions 1000] [--streams 100] [--duration 10]\n' +
  '         [--connections 10] [--mode server|per-message] [--lag-window 5] [--cpu-prof DIR]   (see bench/README.md)\n';
const OPTIONS = {
  sessions: { type: 'string', default: '1000' },
  streams: { type: 'string', default: '100' },
  duration: { type: 'string', default: '10' },
  connections: { type: 'string', default: '10' },
  mode: { type: 'string', default: 'server' },
  'lag-window': { type: 'string', default: '5' },
  'cpu-prof': { type: 'string' }, // the service writes a V8 CPU profile of the whole run into DIR
  help: { type: 'boolean' },
} as const;
const { opts, usage } = benchCli(USAGE, OPTIONS);
const args = {
  sessions: Number(opts.sessions),
  streams: Number(opts.streams),
  durationS: Number(opts.duration),
  connections: Number(opts.connections),
  mode: opts.mode,
  lagWindowS: Number(opts['lag-window']),
  cpuProfDir: opts['cpu-prof'] === undefined ? undefined : path.resolve(opts['cpu-prof']),
};
const positive = [args.sessions, args.streams, args.durationS, args.connections, args.lagWindowS].every((n) => Number.isInteger(n) && n > 0);
if (!['server', 'per-message'].includes(args.mode) || !positive || args.streams > args.sessions) usage(2);

// Targets of issue 8 (latency in ms).
const TARGETS = { statusP99Ms: 10, metricsP99Ms: 50 };

// ---------------------------------------------------------------- event-loop lag, inside the service
// A preload (a data: URL module, so the service's code is untouched) keeps a monitorEventLoopDelay
// histogram in the service process and answers reset/read over the IPC channel. The channel is
// unref'd: it never keeps the service alive, and the service's own shutdown is what ends it.
const ELD_PRELOAD = `import { monitorEventLoopDelay } from 'node:perf_hooks';
const h = monitorEventLoopDelay({ resolution: ${ELD_RESOLUTION_MS} });
h.enable();
process.on('message', (m) => {
  if (m === null || typeof m !== 'object' || typeof m.eld !== 'string') return;
  const snapshot = { eldId: m.id, p50: h.percentile(50), p99: h.percentile(99), max: h.max, mean: h.mean, count: h.count };
  if (m.eld === 'reset') h.reset();
  process.send(snapshot);
});
process.channel?.unref();
`;

/** Lag in ms: the histogram's timer interval minus its period (what the loop was late by). */
interface Lag {
  p50: number;
  p99: number;
  max: number;
  mean: number;
  samples: number;
}
interface EldSnapshot {
  eldId: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
  count: number;
}

function eldClient(child: ChildProcess): { reset: () => Promise<void>; read: () => Promise<Lag> } {
  let nextId = 0;
  const ask = (eld: 'reset' | 'read'): Promise<EldSnapshot> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => reject(new Error(`no event-loop-lag answer from the service within 10 s (${eld})`)), 10_000);
      const onMessage = (m: unknown): void => {
        if (typeof m !== 'object' || m === null || (m as EldSnapshot).eldId !== id) return;
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve(m as EldSnapshot);
      };
      child.on('message', onMessage);
      child.send({ eld, id });
    });
  const lagMs = (ns: number): number => round2(Math.max(0, ns / 1e6 - ELD_RESOLUTION_MS));
  return {
    reset: async () => {
      await ask('reset');
    },
    read: async () => {
      const s = await ask('read');
      return { p50: lagMs(s.p50), p99: lagMs(s.p99), max: lagMs(s.max), mean: lagMs(s.mean), samples: s.count };
    },
  };
}

// ---------------------------------------------------------------- the service
function startService(tmp: string, token: string): Promise<ReadyService> {
  if (args.mode === 'per-message') {
    // The manager lets only one `opencode run` go in a data home without opencode.db (the real CLI
    // creates it on its first run, and concurrent first runs race on its migrations); the fake never
    // creates it, so every hanging turn but the first would wait for the first. An empty marker makes
    // the data home look used, as in production after the first message: one child per stream.
    const db = path.join(tmp, 'data', 'opencode', 'slot-0', 'data', 'opencode', 'opencode.db');
    mkdirSync(path.dirname(db), { recursive: true });
    writeFileSync(db, '');
  }
  const profile = args.cpuProfDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', args.cpuProfDir];
  return startReadyService(
    {
      // One shared data home and, in server mode, one serve for every session (what this measures):
      // session isolation gives each session its own sandboxed serve, so it is off here.
      PORT: '0',
      HOST: '127.0.0.1',
      OCPM_OPENCODE_BIN: FAKE_OPENCODE,
      OCPM_ISOLATION: 'off',
      OCPM_MODE: args.mode,
      OCPM_POOL_SIZE: '1',
      OCPM_WORKSPACE_ROOT: path.join(tmp, 'workspaces'),
      OCPM_DATA_DIR: path.join(tmp, 'data'),
      XDG_DATA_HOME: path.join(tmp, 'xdg'),
      OCPM_CHILD_ENV_ALLOW: 'FAKE_OPENCODE_*',
      OCPM_API_TOKEN: token,
      OCPM_RATE_LIMIT_PER_MIN: '0',
      OCPM_MAX_CONCURRENT_TURNS: String(args.streams),
      OCPM_MAX_STREAMS_PER_TOKEN: String(args.streams * 2),
      OCPM_QUEUE_LIMIT: String(args.streams),
      OCPM_STALL_TIMEOUT_MS: '0',
      OCPM_KILL_GRACE_MS: '500',
      OCPM_DRAIN_TIMEOUT_MS: '2000',
      OCPM_LOG_LEVEL: 'info',
      HOME: process.env.HOME ?? os.homedir(),
    },
    { nodeArgs: [...profile, '--import', 'tsx', '--import', `data:text/javascript,${encodeURIComponent(ELD_PRELOAD)}`, 'src/main.ts'], ipc: true },
  );
}

// ---------------------------------------------------------------- HTTP
/** One authenticated call, bounded at 60 s: a wedged service fails the run instead of hanging it. */
async function api<T>(base: string, token: string, method: string, route: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await call(base + route, method, body, { authorization: `Bearer ${token}` }, AbortSignal.timeout(60_000));
  return { status: response.status, body: response.body as T };
}

interface Status {
  sessions: number;
  runningTurns: number;
  queuedRequests: number;
  activeStreams: number;
  processManager: { mode: string; pendingRequests: number };
}

/** Polls the status until `done` accepts it; a bound, never a fixed sleep. */
async function waitForStatus(base: string, token: string, what: string, done: (s: Status) => boolean, timeoutMs = 60_000): Promise<Status> {
  let last: Status | undefined;
  try {
    return await waitFor(
      what,
      async () => {
        last = (await api<Status>(base, token, 'GET', '/api/opencode/status')).body;
        return done(last) ? last : undefined;
      },
      timeoutMs,
      100,
    );
  } catch (error) {
    throw new Error(`${String(error)} (last status ${JSON.stringify(last)})`);
  }
}

/** PUT `bench-i` for every i, `concurrency` at a time; each session gets its own workspace. */
async function registerSessions(base: string, token: string, n: number, concurrency = 16): Promise<number> {
  const started = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const id = `bench-${next++}`;
        const res = await api(base, token, 'PUT', `/api/sessions/${id}`, { workspace: id });
        if (res.status !== 201 && res.status !== 200) throw new Error(`PUT ${id}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
      }
    }),
  );
  return Date.now() - started;
}

/** Server mode opens each session's opencode session in the background after PUT: wait for all. */
async function waitWarm(base: string, token: string, n: number): Promise<void> {
  await waitFor(
    `all ${n} sessions to warm up`,
    async () => {
      const { body } = await api<{ sessions: Array<{ opencodeSessionId: string | null }> }>(base, token, 'GET', '/api/sessions?limit=1000');
      return body.sessions.filter((s) => s.opencodeSessionId !== null).length >= n;
    },
    120_000,
    250,
  );
}

// ---------------------------------------------------------------- load
interface Load {
  what: string;
  url: string;
  connections: number;
  durationS: number;
  requests: number;
  rps: number;
  latencyMs: { p50: number; p99: number; max: number; mean: number };
  autocannonMs: { p50: number; p99: number; max: number };
  bytesPerResponse: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** The service's CPU time (user + system) over the wall time, and per request: the cost, less noisy than latency. */
  serviceCpuPct: number;
  serviceCpuMsPerRequest: number;
  serviceLag: Lag;
}

function cannon(
  url: string,
  connections: number,
  durationS: number,
  headers: Record<string, string>,
  onResponse?: (ms: number, status: number) => void,
): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const instance = autocannon({ url, connections, duration: durationS, pipelining: 1, headers }, (error: Error | null, result) => {
      if (error !== null && error !== undefined) reject(error);
      else resolve(result);
    });
    // autocannon's own histogram keeps whole milliseconds; the response event has the float time.
    if (onResponse !== undefined) instance.on('response', (_client, status: number, _bytes, ms: number) => onResponse(ms, status));
  });
}

/** A warm-up run, then the measured run with every 2xx response time and the service's CPU and lag. */
async function measureLoad(
  what: string,
  service: ReadyService,
  eld: ReturnType<typeof eldClient>,
  route: string,
  connections: number,
  headers: Record<string, string> = {},
): Promise<Load> {
  const url = service.base + route;
  await cannon(url, connections, WARMUP_S, headers);
  const times: number[] = [];
  await eld.reset();
  const cpu0 = cpuMs(service.pid);
  const t0 = Date.now();
  const r = await cannon(url, connections, args.durationS, headers, (ms, status) => {
    if (status >= 200 && status < 300) times.push(ms);
  });
  const wallMs = Date.now() - t0;
  const cpuUsedMs = cpuMs(service.pid) - cpu0;
  const serviceCpuPct = Math.round((cpuUsedMs / wallMs) * 100);
  const serviceLag = await eld.read();
  times.sort((a, b) => a - b);
  const pct = (q: number): number => round2(times[Math.max(0, Math.ceil(q * times.length) - 1)] ?? NaN);
  const load: Load = {
    what,
    url: route,
    connections,
    durationS: args.durationS,
    requests: r.requests.total,
    rps: Math.round(r.requests.total / r.duration),
    latencyMs: { p50: pct(0.5), p99: pct(0.99), max: pct(1), mean: round2(times.reduce((a, b) => a + b, 0) / Math.max(1, times.length)) },
    autocannonMs: { p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max },
    bytesPerResponse: Math.round(r.throughput.total / Math.max(1, r.requests.total)),
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    serviceCpuPct,
    serviceCpuMsPerRequest: round2(cpuUsedMs / Math.max(1, r.requests.total)),
    serviceLag,
  };
  out(
    `  ${what}: ${load.rps} req/s, p50 ${load.latencyMs.p50} ms, p99 ${load.latencyMs.p99} ms, service CPU ${serviceCpuPct} % (${load.serviceCpuMsPerRequest} ms/request), non-2xx ${load.non2xx}, errors ${load.errors}`,
  );
  return load;
}

// ---------------------------------------------------------------- SSE streams
interface Stream {
  id: string;
  events: string[];
  done: Promise<void>;
}

/** Opens a `#fake hang` turn as an SSE stream; `done` resolves when the service ends the stream. */
async function openStream(base: string, token: string, id: string): Promise<Stream> {
  const events = await openEventStream(
    `${base}/api/sessions/${id}/messages`,
    { text: `#fake hang\nbench stream ${id}` },
    { headers: { authorization: `Bearer ${token}` } },
  ).catch((error: unknown) => {
    throw new Error(`SSE ${id}: ${String(error).slice(0, 300)}`);
  });
  const stream: Stream = { id, events: [], done: Promise.resolve() };
  stream.done = (async () => {
    for await (const { event, data } of events) {
      stream.events.push(event === 'error' ? `error ${(data as { error?: { code?: string } }).error?.code ?? '?'}` : event);
    }
  })();
  return stream;
}

// ---------------------------------------------------------------- /metrics
/** prom-client's own lag gauges (seconds, with the 10 ms sampling period included): a cross-check. */
function promLag(metricsText: string): Record<string, number> {
  const found: Record<string, number> = {};
  for (const name of ['nodejs_eventloop_lag_p50_seconds', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_eventloop_lag_max_seconds']) {
    const value = series(metricsText, name)[0]?.value;
    if (value !== undefined) found[name] = value;
  }
  return found;
}

// ---------------------------------------------------------------- the run
interface LagPhase {
  what: string;
  lag: Lag;
  promClient: Record<string, number>;
  serviceCpuPct: number;
  durationMs: number;
}

async function lagWindow(what: string, service: ReadyService, token: string, eld: ReturnType<typeof eldClient>, body: () => Promise<void>): Promise<LagPhase> {
  await api(service.base, token, 'GET', '/metrics'); // prom-client resets its lag histogram on every scrape
  await eld.reset();
  const cpu0 = cpuMs(service.pid);
  const t0 = Date.now();
  await body();
  const durationMs = Date.now() - t0;
  const lag = await eld.read();
  const serviceCpuPct = Math.round(((cpuMs(service.pid) - cpu0) / durationMs) * 100);
  const promClient = promLag((await api<string>(service.base, token, 'GET', '/metrics')).body);
  out(`  lag, ${what}: p50 ${lag.p50} ms, p99 ${lag.p99} ms, max ${lag.max} ms (${lag.samples} samples), service CPU ${serviceCpuPct} %`);
  return { what, lag, promClient, serviceCpuPct, durationMs };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function run(service: ReadyService, token: string, tmp: string) {
  const { base } = service;
  const eld = eldClient(service.child);
  const rss = { start: round1(rssMb(service.pid)), end: 0 };

  out(`- registering ${args.sessions} sessions…`);
  const registerMs = await registerSessions(base, token, args.sessions);
  if (args.mode === 'server') await waitWarm(base, token, args.sessions);
  const registered = await waitForStatus(base, token, 'sessions registered', (s) => s.sessions === args.sessions);
  out(`  ${args.sessions} sessions in ${registerMs} ms; status mode ${registered.processManager.mode}`);
  if (args.mode === 'server' && registered.processManager.mode !== 'server') throw new Error(`server mode is not up: ${JSON.stringify(registered)}`);
  const metricsText0 = (await api<string>(base, token, 'GET', '/metrics')).body;
  const statusBytes = JSON.stringify((await api(base, token, 'GET', '/api/opencode/status')).body).length;

  const lags: LagPhase[] = [];
  const loads: Load[] = [];
  lags.push(await lagWindow('0 streams (idle)', service, token, eld, () => sleep(args.lagWindowS * 1000)));

  out(`- load: ${args.durationS} s per run after a ${WARMUP_S} s warm-up…`);
  // With the token: the full status (the summary an anonymous probe gets is a subset of it).
  const bearer = { authorization: `Bearer ${token}` };
  loads.push(await measureLoad(`status, ${args.sessions} sessions`, service, eld, '/api/opencode/status', args.connections, bearer));
  loads.push(await measureLoad(`status, ${args.sessions} sessions, 1 poller`, service, eld, '/api/opencode/status', 1, bearer));
  loads.push(await measureLoad(`/metrics, ${args.sessions} sessions, 1 scraper`, service, eld, '/metrics', 1));
  loads.push(await measureLoad(`/metrics, ${args.sessions} sessions, ${args.connections} connections`, service, eld, '/metrics', args.connections));

  out(`- opening ${args.streams} SSE streams (#fake hang)…`);
  let streams: Stream[] = [];
  lags.push(
    await lagWindow(`opening ${args.streams} streams`, service, token, eld, async () => {
      streams = await Promise.all(Array.from({ length: args.streams }, (_, i) => openStream(base, token, `bench-${i}`)));
      await waitForStatus(base, token, `${args.streams} turns running`, (s) => s.runningTurns === args.streams && s.activeStreams === args.streams);
    }),
  );
  const held = await waitForStatus(base, token, 'streams held', () => true);
  lags.push(await lagWindow(`${args.streams} streams open`, service, token, eld, () => sleep(args.lagWindowS * 1000)));
  loads.push(
    await measureLoad(`status, ${args.sessions} sessions, ${args.streams} streams open`, service, eld, '/api/opencode/status', args.connections, bearer),
  );
  const stillOpen = await waitForStatus(base, token, 'streams still open', () => true);
  const processesWithStreams = fakeOpencodeProcesses(tmp).length;

  out(`- aborting the ${args.streams} turns…`);
  const aborts = await Promise.all(streams.map(async (s) => (await api(base, token, 'POST', `/api/sessions/${s.id}/abort`)).status));
  const ended = await Promise.race([Promise.all(streams.map((s) => s.done)).then(() => true), sleep(30_000).then(() => false)]);
  if (!ended) throw new Error('the SSE streams did not end within 30 s of the aborts');
  await waitForStatus(base, token, 'turns ended', (s) => s.runningTurns === 0 && s.activeStreams === 0 && s.processManager.pendingRequests === 0);
  const lastEvents: Record<string, number> = {};
  for (const s of streams) {
    const last = s.events.at(-1) ?? '(none)';
    lastEvents[last] = (lastEvents[last] ?? 0) + 1;
  }
  const metricsText = (await api<string>(base, token, 'GET', '/metrics')).body;
  rss.end = round1(rssMb(service.pid));
  return {
    registerMs,
    statusBytes,
    rssMb: rss,
    lags,
    loads,
    streams: {
      opened: streams.length,
      runningWhileHeld: held.runningTurns,
      activeStreamsWhileHeld: held.activeStreams,
      runningAfterStatusLoad: stillOpen.runningTurns,
      fakeProcessesWhileOpen: processesWithStreams,
      abortStatuses: countBy(aborts.map(String)),
      lastEvents,
    },
    promLagNames: Object.keys(promLag(metricsText0)),
    commandsByMode: sumBy(metricsText, 'opencode_manager_commands_total', 'mode'),
    commandsByOutcome: sumBy(metricsText, 'opencode_manager_commands_total', 'outcome'),
    spawnsByKind: sumBy(metricsText, 'opencode_manager_process_spawns_total', 'kind'),
  };
}

function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}
const round1 = (n: number): number => Math.round(n * 10) / 10;
const round2 = (n: number): number => Math.round(n * 100) / 100;

// ---------------------------------------------------------------- report
type Measured = Awaited<ReturnType<typeof run>>;
interface Row {
  what: string;
  measured: string;
  target: string;
  verdict: 'pass' | 'miss' | '–';
}

function rows(m: Measured): Row[] {
  const loadRow = (l: Load, targetMs: number | undefined): Row => {
    const clean = l.non2xx === 0 && l.errors === 0;
    const measured =
      `${l.rps} req/s; p50 ${l.latencyMs.p50} ms, **p99 ${l.latencyMs.p99} ms**, max ${l.latencyMs.max} ms (${l.connections} conn.); ` +
      `service CPU ${l.serviceCpuPct} %, ${l.serviceCpuMsPerRequest} ms/req${clean ? '' : `; **${l.non2xx} non-2xx, ${l.errors} errors**`}`;
    if (targetMs === undefined) return { what: l.what, measured, target: '–', verdict: '–' };
    return { what: l.what, measured, target: `p99 < ${targetMs} ms`, verdict: clean && l.latencyMs.p99 < targetMs ? 'pass' : 'miss' };
  };
  const lagRow = (p: LagPhase): Row => ({
    what: `event-loop lag, ${p.what}`,
    measured: `p50 ${p.lag.p50} ms, p99 ${p.lag.p99} ms, max ${p.lag.max} ms (service CPU ${p.serviceCpuPct} %)`,
    target: 'none (reported)',
    verdict: '–',
  });
  const [status, status1, metrics1, metricsN, statusStreams] = m.loads as [Load, Load, Load, Load, Load];
  const [idle, opening, open] = m.lags as [LagPhase, LagPhase, LagPhase];
  return [
    loadRow(status, TARGETS.statusP99Ms),
    loadRow(status1, undefined),
    loadRow(metrics1, TARGETS.metricsP99Ms),
    loadRow(metricsN, undefined),
    lagRow(idle),
    lagRow(opening),
    lagRow(open),
    loadRow(statusStreams, TARGETS.statusP99Ms),
  ];
}

function markdown(m: Measured, table: Row[], stopped: { exitCode: number | string; shutdownMs: number }, leftover: number[]): string {
  return [
    `## endpoints: ${args.sessions} sessions, ${args.streams} SSE streams, ${args.mode} mode, ${args.durationS} s per load run, ${os.cpus().length} CPUs`,
    '',
    '| what | measured | target | pass/miss |',
    '|---|---|---|---|',
    ...table.map((r) => `| ${r.what} | ${r.measured} | ${r.target} | ${r.verdict === 'miss' ? '**miss**' : r.verdict} |`),
    '',
    `- latency is the client's (autocannon, keep-alive, pipelining 1, on the same 2-core machine as the service); ` +
      `lag is measured inside the service (monitorEventLoopDelay, ${ELD_RESOLUTION_MS} ms period subtracted)`,
    `- service RSS ${m.rssMb.start} → ${m.rssMb.end} MB; status body ${m.statusBytes} bytes; /metrics body ${m.loads[2]?.bytesPerResponse ?? 0} bytes`,
    `- streams: ${m.streams.runningWhileHeld} turns running while held, ${m.streams.fakeProcessesWhileOpen} fake-opencode processes; ` +
      `aborts ${JSON.stringify(m.streams.abortStatuses)}; last SSE event ${JSON.stringify(m.streams.lastEvents)}; turns by mode ${JSON.stringify(m.commandsByMode)}`,
    `- shutdown: exit code ${stopped.exitCode} after ${stopped.shutdownMs} ms; fake-opencode processes left: ${leftover.length}`,
    '',
  ].join('\n');
}

async function main(): Promise<number> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ocpm-endpoints-'));
  const token = randomBytes(24).toString('hex');
  const startedAt = new Date();
  const bootStart = Date.now();
  const service = await startService(tmp, token);
  const bootMs = Date.now() - bootStart;
  out(`service pid ${service.pid} at ${service.base} (mode ${args.mode}) ready in ${bootMs} ms; temp dir ${tmp}`);
  let measured: Measured | undefined;
  let stopped: { exitCode: number | string; shutdownMs: number };
  try {
    measured = await run(service, token, tmp);
  } finally {
    // Always stopped, and waited for: a failed run does not leave the service (or its children) behind.
    stopped = await stopService(service);
    if (measured === undefined)
      out(
        `service stopped (${stopped.exitCode}); fake-opencode processes left: ${
          fakeOpencodeProcesses(tmp)
            .map((p) => p.pid)
            .join(', ') || 'none'
        }`,
      );
  }
  return report(measured, service, tmp, startedAt, bootMs, stopped);
}

function report(
  m: Measured,
  service: ReadyService,
  tmp: string,
  startedAt: Date,
  bootMs: number,
  stopped: { exitCode: number | string; shutdownMs: number },
): number {
  const leftover = fakeOpencodeProcesses(tmp).map((p) => p.pid);
  for (const pid of leftover)
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  const table = rows(m);
  const md = markdown(m, table, stopped, leftover);
  const ok = leftover.length === 0 && stopped.exitCode === 0 && m.loads.every((l) => l.non2xx === 0 && l.errors === 0);
  const files = writeResults(
    'endpoints',
    startedAt,
    {
      args,
      startedAt: startedAt.toISOString(),
      cpus: os.cpus().length,
      loadAverage: os.loadavg(),
      targets: TARGETS,
      eldResolutionMs: ELD_RESOLUTION_MS,
      bootMs,
      ...m,
      table,
      service: { exitCode: stopped.exitCode, logProblems: Object.fromEntries(service.problems) },
      leftoverPids: leftover,
      ok,
    },
    md,
  );
  out();
  out(md);
  out(`results: ${files.json} and ${files.markdown}`);
  if (ok) rmSync(tmp, { recursive: true, force: true }); // kept after a bad run, for a look
  return ok ? 0 : 1;
}

main().then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    process.stderr.write(`endpoints failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  },
);
