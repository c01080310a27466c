// Side-by-side cost of one turn with the REAL opencode and a stub model at fixed latency:
// the service in per-message mode, the service in server mode, and a bare `opencode serve` called
// directly (the floor: no manager). Latency, peak RSS of the whole process tree, spawns per message.
// Usage: npm run bench:compare -- [--sessions 1,5] [--followups 3]
//        [--latency-per-token-ms 5] [--first-token-ms 100] [--opencode-env OPENCODE_X=1]
//        [--service-env OCPM_X=1]   (bench/README.md)
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startStubLlm, type StubLlm } from '../test/fixtures/stub-llm/server.mjs';
import { OFFLINE_DEFAULTS } from '../src/manager/child-env.js';
import { findFreePort } from '../src/util/free-port.js';
import { stopChild, waitForLine } from '../test/helpers/child-process.js';
import { PROJECT_ROOT } from '../test/helpers/fixtures.js';
import { callOk } from '../test/helpers/http.js';
import { sumBy } from '../test/helpers/metrics-text.js';
import { processTable, processTree, processesMatching, rssKb } from '../test/helpers/processes.js';
import { realOpencodeHome } from '../test/helpers/real-opencode.js';
import { startReadyService } from '../test/helpers/service-binary.js';
import { percentile, writeResults } from './results.js';

const OPENCODE_BIN = path.join(PROJECT_ROOT, 'node_modules', '.bin', 'opencode'); // what the service resolves too
const REQUEST_TIMEOUT_MS = 300_000; // bounds every call: a wedged opencode must fail the run, not hang it
const out = (line = ''): boolean => process.stdout.write(`${line}\n`);

const MODES = ['per-message', 'server', 'server-shared', 'direct'] as const;

const { values: opts } = parseArgs({
  options: {
    sessions: { type: 'string', default: '1,5' },
    followups: { type: 'string', default: '3' },
    'latency-per-token-ms': { type: 'string', default: '5' },
    'first-token-ms': { type: 'string', default: '100' },
    'opencode-env': { type: 'string', multiple: true, default: [] },
    'service-env': { type: 'string', multiple: true, default: [] },
    modes: { type: 'string', default: 'per-message,server,server-shared,direct' },
    'log-dir': { type: 'string' },
  },
});
const args = {
  sessions: opts.sessions.split(',').map(Number),
  followups: Number(opts.followups),
  latencyPerTokenMs: Number(opts['latency-per-token-ms']),
  firstTokenMs: Number(opts['first-token-ms']),
  /** NAME=VALUE settings for opencode in all three scenarios (the service passes OPENCODE_* on). */
  /** Which scenarios run (the ratio table needs all three for an N). */
  modes: opts.modes.split(',') as Array<(typeof MODES)[number]>,
  /** Where each service's JSON log goes (`<mode>-N<n>.log`), for finding out why a run looks wrong. */
  logDir: opts['log-dir'],
  opencodeEnv: Object.fromEntries(opts['opencode-env'].map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)])),
  /** OCPM_* settings of the service in its scenarios (e.g. OCPM_ISOLATION_LAYERS_OFF=… to price a sandbox layer). */
  serviceEnv: Object.fromEntries(opts['service-env'].map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)])),
};
const counts = [...args.sessions, args.followups, args.latencyPerTokenMs, args.firstTokenMs];
const badEnv = opts['opencode-env'].some((pair) => !/^OPENCODE_[A-Z0-9_]+=/.test(pair)) || opts['service-env'].some((pair) => !/^OCPM_[A-Z0-9_]+=/.test(pair));
const badModes = args.modes.some((mode) => !MODES.includes(mode));
if (badModes || !counts.every((n) => Number.isInteger(n) && n >= 0) || args.sessions.some((n) => n < 1) || badEnv) {
  process.stderr.write(
    'usage: node --import tsx bench/compare.ts [--sessions 1,5] [--followups 3] [--latency-per-token-ms 5] [--first-token-ms 100] [--opencode-env OPENCODE_X=1 ...] [--service-env OCPM_X=1 ...] [--modes per-message,server,server-shared,direct] [--log-dir DIR]\n',
  );
  process.exit(2);
}

/**
 * `server`: the default, an isolated pool (one sandboxed serve per session, OCPM_POOL_SIZE defaulting
 * to N); `server-shared`: OCPM_ISOLATION=off with one serve for every session (the cost baseline of
 * isolation); per-message runs sandboxed as by default.
 */
type Mode = 'per-message' | 'server' | 'server-shared' | 'direct';
interface Stats {
  p50: number;
  p95: number;
  n: number;
}
interface Scenario {
  mode: Mode;
  sessions: number;
  messages: number;
  first: Stats;
  followup: Stats;
  warm: Stats | null;
  peakRssMb: number;
  rootPeakRssMb: number;
  spawns: number;
  spawnsPer100: number;
  wrongAnswers: string[];
  failed: string[];
  leftoverPids: number[];
}

function stats(ms: number[]): Stats {
  return { p50: percentile(ms, 0.5), p95: percentile(ms, 0.95), n: ms.length };
}

// ---------------------------------------------------------------- /proc
/**
 * Samples the tree's summed VmRSS every 200 ms; stop() gives the peak in MB, and the peak of the root
 * process alone (the service's own Node process, or the bare serve).
 */
function rssSampler(root: number): { stop: () => { tree: number; root: number } } {
  let peakKb = 0;
  let rootPeakKb = 0;
  const sample = (): void => {
    const table = processTable();
    peakKb = Math.max(
      peakKb,
      processTree(root, table).reduce((sum, pid) => sum + rssKb(pid), 0),
    );
    rootPeakKb = Math.max(rootPeakKb, table.has(root) ? rssKb(root) : 0);
  };
  sample();
  const timer = setInterval(sample, 200);
  return {
    stop: () => {
      clearInterval(timer);
      sample();
      return { tree: Math.round(peakKb / 1024), root: Math.round(rootPeakKb / 1024) };
    },
  };
}

/**
 * Live opencode processes of one scenario. Tool children of opencode may be reparented to init, so
 * the tree walk alone could miss them; every process we cause inherits HOME inside the scenario's
 * temp dir, so the environment is the marker (and other engineers' test runs are not counted).
 */
function opencodeLeft(marker: string): number[] {
  return processesMatching({ cmdline: 'opencode', environ: marker }).map((p) => p.pid);
}

// ---------------------------------------------------------------- children

/** The opencode environment of the e2e tests: a private HOME/XDG tree and the stub model's config. */
async function opencodeEnv(tmp: string, stub: StubLlm): Promise<Record<string, string>> {
  const home = path.join(tmp, 'home');
  return { PATH: process.env.PATH ?? '', ...(await realOpencodeHome(stub, home)), XDG_DATA_HOME: `${home}/.local/share`, ...args.opencodeEnv };
}

async function startService(
  mode: 'per-message' | 'server' | 'server-shared',
  n: number,
  tmp: string,
  env: Record<string, string>,
): Promise<{ child: ChildProcess; base: string }> {
  const modeEnv = mode === 'server-shared' ? { OCPM_MODE: 'server', OCPM_ISOLATION: 'off', OCPM_POOL_SIZE: '1' } : { OCPM_MODE: mode };
  // The service as production runs it: the compiled build (npm run bench:compare builds it first).
  return startReadyService(
    {
      ...env,
      ...args.serviceEnv,
      ...modeEnv,
      PORT: '0',
      HOST: '127.0.0.1',
      OCPM_LOG_LEVEL: 'info',
      OCPM_DATA_DIR: path.join(tmp, 'data'),
      OCPM_WORKSPACE_ROOT: path.join(tmp, 'ws'),
      OCPM_MAX_CONCURRENT_TURNS: String(n),
      OCPM_AUTH: 'disabled',
      OCPM_RATE_LIMIT_PER_MIN: '0',
      OCPM_KILL_GRACE_MS: '2000',
      OCPM_DRAIN_TIMEOUT_MS: '1000',
    },
    { nodeArgs: ['dist/main.js'], ...(args.logDir === undefined ? {} : { logFile: path.join(args.logDir, `${mode}-N${n}.log`) }) },
  );
}

async function startDirect(env: Record<string, string>, password: string): Promise<{ child: ChildProcess; base: string }> {
  const port = await findFreePort();
  const child = spawn(OPENCODE_BIN, ['serve', '--hostname', '127.0.0.1', '--port', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // The service's own offline defaults, so the floor runs the same opencode configuration.
    env: { ...OFFLINE_DEFAULTS, ...env, OPENCODE_SERVER_PASSWORD: password },
  });
  child.stderr.resume();
  // serve accepts TCP ~0.3 s before it can answer, and a request in that window hangs forever.
  await waitForLine(child, '"opencode server listening on"', (line) => (line.includes('opencode server listening on') ? true : undefined));
  child.stdout.resume();
  return { child, base: `http://127.0.0.1:${port}` };
}

/** SIGTERM the root and wait for its exit (SIGKILL after 30 s); then SIGKILL anything of ours left. */
async function stopTree(child: ChildProcess, marker: string): Promise<number[]> {
  await stopChild(child);
  const left = opencodeLeft(marker);
  for (const pid of left)
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  return left;
}

// ---------------------------------------------------------------- clients
/** A 2xx answer's body; every call is bounded. No header: the service runs with OCPM_AUTH=disabled. */
function http<T>(url: string, method: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  return callOk<T>(url, method, body, { authorization: '', ...headers }, AbortSignal.timeout(REQUEST_TIMEOUT_MS));
}

/** One API per contestant: register (returns ms until a message can go out warm), then send. */
interface Client {
  register: (id: string) => Promise<number>;
  send: (id: string, text: string) => Promise<string>;
}

function serviceClient(base: string, mode: 'per-message' | 'server' | 'server-shared'): Client {
  return {
    async register(id) {
      const started = Date.now();
      await http(`${base}/api/sessions/${id}`, 'PUT', { workspace: id });
      // Server mode opens the opencode session at PUT; the first message is measured once it is warm.
      while (mode !== 'per-message') {
        const s = await http<{ opencodeSessionId: string | null }>(`${base}/api/sessions/${id}`, 'GET');
        if (s.opencodeSessionId !== null) break;
        if (Date.now() - started > REQUEST_TIMEOUT_MS) throw new Error(`session ${id} never warmed up`);
        await new Promise((r) => setTimeout(r, 25));
      }
      return Date.now() - started;
    },
    send: async (id, text) => (await http<{ text: string }>(`${base}/api/sessions/${id}/messages`, 'POST', { text })).text,
  };
}

function directClient(base: string, password: string, wsRoot: string): Client {
  const auth = { authorization: `Basic ${Buffer.from(`opencode:${password}`).toString('base64')}` };
  const sessions = new Map<string, { sid: string; dir: string }>();
  return {
    async register(id) {
      const dir = path.join(wsRoot, id);
      mkdirSync(dir, { recursive: true });
      const started = Date.now();
      // A title spares opencode the extra title-generation call, as the service does.
      const s = await http<{ id: string }>(`${base}/session?directory=${encodeURIComponent(dir)}`, 'POST', { title: id }, auth);
      sessions.set(id, { sid: s.id, dir });
      return Date.now() - started;
    },
    async send(id, text) {
      const { sid, dir } = sessions.get(id)!;
      type Reply = { info: { error?: unknown }; parts: { type: string; text?: string }[] };
      const r = await http<Reply>(`${base}/session/${sid}/message?directory=${encodeURIComponent(dir)}`, 'POST', { parts: [{ type: 'text', text }] }, auth);
      // A failed or aborted turn is still a 200: the error is in info.
      if (r.info.error !== undefined) throw new Error(`turn failed: ${JSON.stringify(r.info.error).slice(0, 300)}`);
      return r.parts
        .filter((p) => p.type === 'text')
        .map((p) => p.text ?? '')
        .join('');
    },
  };
}

/**
 * First messages of all sessions at once, then `followups` rounds of one message per session. A failed
 * turn is recorded and left out of the latencies: the run goes on, so a flaky mode still gets numbers.
 */
async function runRounds(client: Client, ids: string[]): Promise<{ first: number[]; followup: number[]; wrong: string[]; failed: string[] }> {
  const first: number[] = [],
    followup: number[] = [],
    wrong: string[] = [],
    failed: string[] = [];
  for (let round = 1; round <= args.followups + 1; round++) {
    await Promise.all(
      ids.map(async (id) => {
        const started = Date.now();
        let text: string;
        try {
          text = await client.send(id, `round ${round} MARK:${id}-${round}`);
        } catch (error) {
          failed.push(`${id} round ${round} after ${Date.now() - started} ms: ${String(error).slice(0, 300)}`);
          return;
        }
        (round === 1 ? first : followup).push(Date.now() - started);
        // The stub counts the user messages it was sent: a follow-up that lost its conversation shows.
        const expected = `stub answer user_messages=${round} marker=${id}-${round}`;
        if (text !== expected) wrong.push(`${id} round ${round}: ${text.slice(0, 120)}`);
      }),
    );
  }
  return { first, followup, wrong, failed };
}

function spawnsStarted(metrics: string): number {
  return sumBy(metrics, 'opencode_manager_process_spawns_total', 'outcome').started ?? 0;
}

async function runScenario(mode: Mode, n: number, stub: StubLlm): Promise<Scenario> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), `ocpm-compare-${mode}-`));
  const env = await opencodeEnv(tmp, stub);
  const ids = Array.from({ length: n }, (_, i) => `s${i}`);
  const password = `bench-${process.pid}-${Date.now()}`;
  let child: ChildProcess | undefined;
  try {
    let client: Client;
    let base = '';
    if (mode === 'direct') {
      ({ child, base } = await startDirect(env, password));
      client = directClient(base, password, path.join(tmp, 'ws'));
    } else {
      ({ child, base } = await startService(mode, n, tmp, env));
      client = serviceClient(base, mode);
    }
    const rss = rssSampler(child.pid!);
    const warm = await Promise.all(ids.map((id) => client.register(id)));
    const rounds = await runRounds(client, ids);
    const { tree: peakRssMb, root: rootPeakRssMb } = rss.stop();
    // The bare serve was spawned once, by us; the service counts its own spawns.
    const spawns = mode === 'direct' ? 1 : spawnsStarted(await http<string>(`${base}/metrics`, 'GET'));
    const messages = n * (args.followups + 1);
    const leftoverPids = await stopTree(child, tmp);
    child = undefined;
    return {
      mode,
      sessions: n,
      messages,
      first: stats(rounds.first),
      followup: stats(rounds.followup),
      warm: mode === 'per-message' ? null : stats(warm),
      peakRssMb,
      rootPeakRssMb,
      spawns,
      spawnsPer100: Math.round((spawns / messages) * 1000) / 10,
      wrongAnswers: rounds.wrong,
      failed: rounds.failed,
      leftoverPids,
    };
  } finally {
    if (child !== undefined) await stopTree(child, tmp); // a failed scenario still leaves nothing behind
    rmSync(tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- report
const ratio = (a: number, b: number): number => (b === 0 ? NaN : Math.round((a / b) * 10) / 10);
function derived(results: Scenario[]): Record<number, Record<string, number>> {
  const byN: Record<number, Record<string, number>> = {};
  for (const n of args.sessions) {
    const get = (m: Mode): Scenario | undefined => results.find((r) => r.sessions === n && r.mode === m);
    const [pm, sv, dr, sh] = [get('per-message'), get('server'), get('direct'), get('server-shared')];
    if (sv !== undefined && sh !== undefined) {
      byN[n] = {
        ...byN[n],
        isolatedOverSharedFirstP50: ratio(sv.first.p50, sh.first.p50),
        isolatedOverSharedFollowupP50: ratio(sv.followup.p50, sh.followup.p50),
        isolatedOverSharedPeakRss: ratio(sv.peakRssMb, sh.peakRssMb),
      };
    }
    if (pm === undefined || sv === undefined || dr === undefined) continue;
    byN[n] = {
      ...byN[n],
      managerOverheadMsPerTurn: sv.followup.p50 - dr.followup.p50,
      perMessageOverServerFirstP50: ratio(pm.first.p50, sv.first.p50),
      perMessageOverServerFollowupP50: ratio(pm.followup.p50, sv.followup.p50),
      perMessageOverServerPeakRss: ratio(pm.peakRssMb, sv.peakRssMb),
    };
  }
  return byN;
}

function markdown(results: Scenario[], d: Record<number, Record<string, number>>): string {
  const rows = results.map(
    (r) =>
      `| ${r.sessions} | ${r.mode} | ${r.first.p50} | ${r.first.p95} | ${r.followup.p50} | ${r.followup.p95} | ` +
      `${r.warm === null ? '–' : `${r.warm.p50} / ${r.warm.p95}`} | ${r.peakRssMb} | ${r.rootPeakRssMb} | ${r.spawns} (${r.spawnsPer100}) | ${r.failed.length} | ${r.wrongAnswers.length} | ${r.leftoverPids.length} |`,
  );
  const lines = Object.entries(d).map(
    ([n, v]) =>
      `| ${n} | ${v.managerOverheadMsPerTurn ?? '–'} | ${v.perMessageOverServerFirstP50 ?? '–'} | ` +
      `${v.perMessageOverServerFollowupP50 ?? '–'} | ${v.perMessageOverServerPeakRss ?? '–'} | ${v.isolatedOverSharedFirstP50 ?? '–'} | ${v.isolatedOverSharedFollowupP50 ?? '–'} | ${v.isolatedOverSharedPeakRss ?? '–'} |`,
  );
  return [
    `## compare: followups ${args.followups}, stub first token ${args.firstTokenMs} ms, ${args.latencyPerTokenMs} ms/token` +
      (Object.keys(args.opencodeEnv).length === 0
        ? ''
        : `, opencode env ${Object.entries(args.opencodeEnv)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')}`),
    '',
    '| N | mode | first p50 ms | first p95 ms | follow-up p50 ms | follow-up p95 ms | PUT→warm p50 / p95 ms | peak RSS MB | of which root MB | spawns (per 100 msgs) | failed turns | wrong answers | leftover procs |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    '| N | manager overhead ms/turn (server − direct follow-up p50) | per-message/server first p50 | per-message/server follow-up p50 | per-message/server peak RSS | isolated/shared first p50 | isolated/shared follow-up p50 | isolated/shared peak RSS |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...lines,
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  if (!existsSync(path.join(PROJECT_ROOT, 'dist', 'main.js')))
    throw new Error('dist/main.js is missing: run `npm run build` first (npm run bench:compare does)');
  if (args.logDir !== undefined) mkdirSync(args.logDir, { recursive: true });
  if (Object.keys(args.opencodeEnv).length > 0) out(`opencode settings in every scenario: ${JSON.stringify(args.opencodeEnv)}`);
  if (Object.keys(args.serviceEnv).length > 0) out(`service settings in every scenario: ${JSON.stringify(args.serviceEnv)}`);
  const stub = await startStubLlm({ latencyPerTokenMs: args.latencyPerTokenMs, firstTokenMs: args.firstTokenMs });
  const results: Scenario[] = [];
  try {
    for (const n of args.sessions) {
      for (const mode of MODES.filter((m) => args.modes.includes(m))) {
        out(`- N=${n} ${mode}…`);
        const r = await runScenario(mode, n, stub);
        out(
          `  first p50 ${r.first.p50} ms, follow-up p50 ${r.followup.p50} ms, peak RSS ${r.peakRssMb} MB (root ${r.rootPeakRssMb} MB), spawns ${r.spawns}, failed ${r.failed.length}`,
        );
        results.push(r);
      }
    }
  } finally {
    await stub.close();
  }
  const d = derived(results);
  const table = markdown(results, d);
  const files = writeResults('compare', new Date(), { args, opencodeBin: OPENCODE_BIN, cpus: os.cpus().length, results, derived: d }, table);
  out();
  out(table);
  out(`results: ${files.json} and ${files.markdown}`);
  const bad = results.filter((r) => r.failed.length + r.wrongAnswers.length + r.leftoverPids.length > 0);
  for (const r of bad) out(`PROBLEM N=${r.sessions} ${r.mode}: ${JSON.stringify({ failed: r.failed, wrong: r.wrongAnswers, leftoverPids: r.leftoverPids })}`);
  process.exitCode = bad.length > 0 ? 1 : 0;
}

main().catch((error: unknown) => {
  process.stderr.write(`compare failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
