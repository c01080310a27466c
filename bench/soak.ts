// Soak run of the real service against the fake opencode: many messages with seeded random faults,
// then a check that what the clients saw agrees with /metrics, that the service's memory stayed
// bounded, that it shuts down cleanly and that no fake-opencode process outlives it.
// Usage: node --import tsx bench/soak.ts [--messages 2000] [--sessions 50] [--concurrency 16]
//        [--mode per-message|server] [--seed 1] [--log-level info] [--log-file PATH]   (bench/README.md)
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FAKE_OPENCODE, FAKE_OPENCODE_READ_PATHS } from '../test/helpers/fixtures.js';
import { call, type JsonResponse } from '../test/helpers/http.js';
import { sumBy } from '../test/helpers/metrics-text.js';
import { fakeOpencodeProcesses, rssMb } from '../test/helpers/processes.js';
import { mulberry32 } from '../test/helpers/random.js';
import { startReadyService, stopService, type ReadyService } from '../test/helpers/service-binary.js';
import { waitFor } from '../test/helpers/wait-for.js';
import { benchCli } from './cli.js';
import { percentile, writeResults } from './results.js';

const OUTCOMES = ['success', 'error', 'timeout', 'aborted', 'other'] as const;
type Outcome = (typeof OUTCOMES)[number];
const TIMEOUT_CODES = new Set(['turn_timeout', 'stall_timeout', 'queue_timeout']);
const out = (line = ''): boolean => process.stdout.write(`${line}\n`);

const USAGE =
  'usage: node --import tsx bench/soak.ts [--messages 2000] [--sessions 50] [--concurrency 16]\n' +
  '         [--mode per-message|server] [--seed 1] [--log-level info] [--log-file PATH]   (see bench/README.md)\n';
const OPTIONS = {
  messages: { type: 'string', default: '2000' },
  sessions: { type: 'string', default: '50' },
  concurrency: { type: 'string', default: '16' },
  mode: { type: 'string', default: 'per-message' },
  seed: { type: 'string', default: '1' },
  // info, not warn: the two start-up lines we wait for are logged at info level.
  'log-level': { type: 'string', default: 'info' },
  'log-file': { type: 'string' }, // keeps the service's stdout log lines, for an investigation
  help: { type: 'boolean' },
} as const;
const { opts, usage } = benchCli(USAGE, OPTIONS);
const args = {
  messages: Number(opts.messages),
  sessions: Number(opts.sessions),
  concurrency: Number(opts.concurrency),
  mode: opts.mode,
  seed: Number(opts.seed),
  logLevel: opts['log-level'],
  logFile: opts['log-file'],
};
const positive = [args.messages, args.sessions, args.concurrency].every((n) => Number.isInteger(n) && n > 0);
if (!['per-message', 'server'].includes(args.mode) || !positive || !Number.isInteger(args.seed)) usage(2);

// The fault mix (weights in percent). Expected results are in bench/README.md; the check here does
// not depend on them, only on the client and the metrics counting the same outcomes.
interface Fault {
  name: string;
  weight: number;
  directive: (rand: () => number) => string;
  abortAfterMs?: number;
}
const FAULTS: Fault[] = [
  { name: 'ok', weight: 70, directive: (rand) => `delay=${Math.floor(rand() * 31)}` },
  { name: 'exit=3', weight: 4, directive: () => 'exit=3' },
  { name: 'error-event', weight: 4, directive: () => 'error-event' },
  { name: 'silent', weight: 4, directive: () => 'silent' },
  { name: 'crash-after', weight: 4, directive: () => 'crash-after=10' },
  { name: 'garbage+flood', weight: 4, directive: () => 'garbage flood=20' },
  { name: 'hang', weight: 4, directive: () => 'hang' },
  { name: 'grandchild', weight: 4, directive: () => 'grandchild' },
  { name: 'client-abort', weight: 2, directive: () => 'delay=500', abortAfterMs: 50 },
];

interface Planned {
  index: number;
  session: string;
  fault: Fault;
  text: string;
}
interface Result {
  fault: string;
  outcome: Outcome;
  status: number | 'abort' | 'fetch-error';
  code?: string;
  message?: string;
  ms: number;
}

/** The messages and their faults, from the seeded PRNG: the same --seed replays the same run. */
function plan(): Planned[] {
  const rand = mulberry32(args.seed);
  const total = FAULTS.reduce((sum, f) => sum + f.weight, 0);
  return Array.from({ length: args.messages }, (_, index) => {
    let roll = rand() * total;
    const fault = FAULTS.find((f) => (roll -= f.weight) < 0) ?? FAULTS[0]!;
    return { index, session: `soak-${index % args.sessions}`, fault, text: `#fake ${fault.directive(rand)}\nsoak message ${index}` };
  });
}

// ---------------------------------------------------------------- the service
function startService(tmp: string): Promise<ReadyService> {
  return startReadyService(
    {
      PORT: '0',
      HOST: '127.0.0.1',
      OCPM_OPENCODE_BIN: FAKE_OPENCODE,
      OCPM_SANDBOX_READ_PATHS: FAKE_OPENCODE_READ_PATHS,
      OCPM_MODE: args.mode,
      OCPM_WORKSPACE_ROOT: path.join(tmp, 'workspaces'),
      OCPM_DATA_DIR: path.join(tmp, 'data'),
      XDG_DATA_HOME: path.join(tmp, 'xdg'),
      OCPM_CHILD_ENV_ALLOW: 'FAKE_OPENCODE_*',
      OCPM_AUTH: 'disabled',
      OCPM_RATE_LIMIT_PER_MIN: '0',
      OCPM_MAX_CONCURRENT_TURNS: '4',
      OCPM_QUEUE_LIMIT: '1000',
      OCPM_SESSION_QUEUE_LIMIT: '1000',
      OCPM_TURN_TIMEOUT_MS: '3000',
      OCPM_STALL_TIMEOUT_MS: '2000',
      OCPM_KILL_GRACE_MS: '200',
      OCPM_LOG_LEVEL: args.logLevel,
      HOME: process.env.HOME ?? os.homedir(),
    },
    args.logFile === undefined ? {} : { logFile: args.logFile },
  );
}

/** Live fake-opencode processes of THIS run, counted by role. */
function fakeProcessesByRole(marker: string): Record<string, number> {
  const roles: Record<string, number> = {};
  for (const { role } of fakeOpencodeProcesses(marker)) roles[role] = (roles[role] ?? 0) + 1;
  return roles;
}
const totalOf = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);

// ---------------------------------------------------------------- HTTP
const jsonBody = (body: unknown): RequestInit => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
/** The service runs with OCPM_AUTH=disabled: no bearer token. */
const NO_AUTH = { authorization: '' };
const api = (base: string, method: string, route: string, body?: unknown): Promise<JsonResponse> => call(base + route, method, body, NO_AUTH);

function classify(status: number, code: string | undefined): Outcome {
  if (status === 200) return 'success';
  if (status === 502) return 'error';
  if (status === 504 && code !== undefined && TIMEOUT_CODES.has(code)) return 'timeout';
  if (status === 409 && code === 'aborted') return 'aborted';
  return 'other';
}

async function sendOne(base: string, p: Planned): Promise<Result> {
  const started = Date.now();
  const result = (r: Omit<Result, 'fault' | 'ms'>): Result => ({ fault: p.fault.name, ...r, ms: Date.now() - started });
  const controller = new AbortController();
  const timer = p.fault.abortAfterMs === undefined ? undefined : setTimeout(() => controller.abort(), p.fault.abortAfterMs);
  try {
    const res = await fetch(`${base}/api/sessions/${p.session}/messages`, { method: 'POST', ...jsonBody({ text: p.text }), signal: controller.signal });
    const body = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
    const { code, message } = body.error ?? {};
    const error = { ...(code === undefined ? {} : { code }), ...(message === undefined ? {} : { message: message.slice(0, 300) }) };
    return result({ outcome: classify(res.status, code), status: res.status, ...error });
  } catch (error) {
    // Our own abort is the planned client abort; any other fetch failure is unexpected.
    if (controller.signal.aborted) return result({ outcome: 'aborted', status: 'abort' });
    return result({ outcome: 'other', status: 'fetch-error', code: String(error) });
  } finally {
    clearTimeout(timer);
  }
}

/** At most `concurrency` messages in flight: that many workers pull the next planned message. */
async function sendAll(base: string, planned: Planned[]): Promise<Result[]> {
  const results: Result[] = [];
  let next = 0;
  const step = Math.max(1, Math.floor(planned.length / 10));
  const worker = async (): Promise<void> => {
    while (next < planned.length) {
      results.push(await sendOne(base, planned[next++]!));
      if (results.length % step === 0) out(`  ${results.length}/${planned.length} answered`);
    }
  };
  await Promise.all(Array.from({ length: args.concurrency }, worker));
  return results;
}

/** Client aborts end turns on the service after our fetch returned: wait until it counted them all. */
async function waitIdle(base: string): Promise<void> {
  await waitFor(
    'no pending messages (30 s after the last answer)',
    async () => {
      const status = (await api(base, 'GET', '/api/opencode/status')).body as { processManager?: { pendingRequests?: number } };
      return status.processManager?.pendingRequests === 0;
    },
    30_000,
    100,
  );
}

// ---------------------------------------------------------------- main
interface Measured {
  bootMs: number;
  sendMs: number;
  results: Result[];
  metricsText: string;
  status: unknown;
  rss: { start: number; peak: number; end: number };
  idleProcesses: Record<string, number>;
  leftover: Record<string, number>;
  stopped: { exitCode: number | string; shutdownMs: number };
}

/** Runs the whole soak against a started service and stops it; throws only on a broken run. */
async function measure(service: ReadyService, tmp: string, bootMs: number): Promise<Measured> {
  const base = service.base;
  const rss = { start: rssMb(service.pid), peak: 0, end: 0 };
  rss.peak = rss.start;
  const sampler = setInterval(() => (rss.peak = Math.max(rss.peak, rssMb(service.pid))), 250);
  try {
    for (let i = 0; i < args.sessions; i++) {
      const res = await api(base, 'PUT', `/api/sessions/soak-${i}`, { workspace: `soak-${i}` });
      if (res.status !== 201 && res.status !== 200) throw new Error(`PUT session soak-${i}: ${res.status} ${JSON.stringify(res.body)}`);
    }
    const sendStart = Date.now();
    const results = await sendAll(base, plan());
    const sendMs = Date.now() - sendStart;
    await waitIdle(base);
    rss.end = rssMb(service.pid);
    rss.peak = Math.max(rss.peak, rss.end); // a short run can end between two samples
    const metricsText = (await api(base, 'GET', '/metrics')).body as string;
    const status = (await api(base, 'GET', '/api/opencode/status')).body;
    const idleProcesses = fakeProcessesByRole(tmp); // server mode: the serve instances are expected here
    clearInterval(sampler);
    const stopped = await stopService(service);
    return { bootMs, sendMs, results, metricsText, status, rss, idleProcesses, leftover: fakeProcessesByRole(tmp), stopped };
  } finally {
    clearInterval(sampler);
    await stopService(service); // a no-op after a clean stop; on an exception, never leave it running
  }
}

function buildReport(m: Measured, startedAt: number, problems: Map<string, number>) {
  const client = Object.fromEntries(OUTCOMES.map((o) => [o, m.results.filter((r) => r.outcome === o).length])) as Record<Outcome, number>;
  const commands = sumBy(m.metricsText, 'opencode_manager_commands_total', 'outcome');
  const counts = OUTCOMES.map((o) => ({ outcome: o, client: client[o], metrics: commands[o] ?? 0, agree: client[o] === (commands[o] ?? 0) }));
  const metricsTotal = totalOf(commands);
  const latencies = m.results.map((r) => r.ms).sort((a, b) => a - b);
  const spawnsBy = (label: string): Record<string, number> => sumBy(m.metricsText, 'opencode_manager_process_spawns_total', label);
  const report = {
    args,
    startedAt: new Date(startedAt).toISOString(),
    bootMs: m.bootMs,
    sendMs: m.sendMs,
    messagesPerSecond: round(args.messages / (m.sendMs / 1000)),
    latencyMs: { p50: percentile(latencies, 0.5), p95: percentile(latencies, 0.95), max: latencies.at(-1) ?? 0 },
    counts,
    totals: {
      client: m.results.length,
      metrics: metricsTotal,
      expected: args.messages,
      agree: m.results.length === args.messages && metricsTotal === args.messages,
    },
    commandsByMode: sumBy(m.metricsText, 'opencode_manager_commands_total', 'mode'),
    spawns: { byKind: spawnsBy('kind'), byOutcome: spawnsBy('outcome') },
    byFault: byFault(m.results),
    errorSamples: errorSamples(m.results),
    others: m.results.filter((r) => r.outcome === 'other'),
    rssMb: { start: round(m.rss.start), peak: round(m.rss.peak), end: round(m.rss.end) },
    fakeProcesses: { whenIdle: m.idleProcesses, afterShutdown: m.leftover, leftover: totalOf(m.leftover) },
    service: { exitCode: m.stopped.exitCode, shutdownMs: m.stopped.shutdownMs, logProblems: Object.fromEntries(problems), status: m.status },
  };
  const ok = counts.every((r) => r.agree) && report.totals.agree && report.fakeProcesses.leftover === 0 && m.stopped.exitCode === 0;
  return { ...report, ok };
}
type Report = ReturnType<typeof buildReport>;

async function main(): Promise<number> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ocpm-soak-'));
  const startedAt = Date.now();
  const service = await startService(tmp);
  const bootMs = Date.now() - startedAt;
  out(`service pid ${service.pid} on port ${service.port} (mode ${args.mode}) ready in ${bootMs} ms; temp dir ${tmp}`);
  const report = buildReport(await measure(service, tmp, bootMs), startedAt, service.problems);
  const files = writeResults(`soak-${args.mode}`, new Date(startedAt), report);
  printSummary(report, files.json);
  rmSync(tmp, { recursive: true, force: true }); // kept when the run threw, for a look
  return report.ok ? 0 : 1;
}

const round = (n: number): number => Math.round(n * 10) / 10;

/** The first three error messages of each fault and status, to see why a fault ended as it did. */
function errorSamples(results: Result[]): Record<string, string[]> {
  const samples: Record<string, string[]> = {};
  for (const r of results) {
    if (r.message === undefined) continue;
    const list = (samples[`${r.fault} -> ${r.status} ${r.code}`] ??= []);
    if (list.length < 3) list.push(r.message);
  }
  return samples;
}

/** fault -> "status code" -> count: shows what each fault really produced in this mode. */
function byFault(results: Result[]): Record<string, Record<string, number>> {
  const table: Record<string, Record<string, number>> = Object.fromEntries(FAULTS.map((f) => [f.name, {}]));
  for (const r of results) {
    const key = r.status === 'fetch-error' ? 'fetch-error' : `${r.status}${r.code === undefined ? '' : ` ${r.code}`}`;
    const row = (table[r.fault] ??= {});
    row[key] = (row[key] ?? 0) + 1;
  }
  return table;
}

function printSummary(r: Report, file: string): void {
  const kv = (o: Record<string, number>): string =>
    Object.entries(o)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none';
  const { mode, messages, sessions, concurrency, seed } = r.args;
  out(`\n## Soak ${mode}: ${messages} messages, ${sessions} sessions, concurrency ${concurrency}, seed ${seed}: ${r.ok ? 'PASS' : 'FAIL'}\n`);
  const { p50, p95, max } = r.latencyMs;
  out(`- ${(r.sendMs / 1000).toFixed(1)} s, **${r.messagesPerSecond} messages/s**; latency p50 ${p50} ms, p95 ${p95} ms, max ${max} ms`);
  out(`- service RSS: start ${r.rssMb.start} MB, **peak ${r.rssMb.peak} MB**, end ${r.rssMb.end} MB`);
  out(`- turns by mode: ${kv(r.commandsByMode)}; spawns by kind: ${kv(r.spawns.byKind)}; by outcome: ${kv(r.spawns.byOutcome)}`);
  out(`- fake-opencode processes when idle: ${kv(r.fakeProcesses.whenIdle)}; **after shutdown: ${r.fakeProcesses.leftover}**`);
  out(`- shutdown: exit code **${r.service.exitCode}** after **${r.service.shutdownMs} ms**; warn/error log lines: ${kv(r.service.logProblems)}\n`);
  out('| outcome | client count | metrics count | agree? |\n|---|---:|---:|---|');
  for (const row of r.counts) out(`| ${row.outcome} | ${row.client} | ${row.metrics} | ${row.agree ? 'yes' : '**NO**'} |`);
  out(`| **total** | ${r.totals.client} | ${r.totals.metrics} | ${r.totals.agree ? 'yes' : '**NO**'} |\n`);
  out('| fault | results (HTTP status and error code: count) |\n|---|---|');
  for (const [fault, row] of Object.entries(r.byFault)) out(`| ${fault} | ${kv(row)} |`);
  for (const other of r.others.slice(0, 20)) out(`other: ${JSON.stringify(other)}`);
  out(`\nresults: ${file}`);
}

main().then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    process.stderr.write(`soak failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  },
);
