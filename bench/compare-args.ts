// The command line of bench/compare.ts and the shapes of its results (bench/README.md#compare).
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../test/helpers/fixtures.js';
import { percentile } from './results.js';

export const OPENCODE_BIN = path.join(PROJECT_ROOT, 'node_modules', '.bin', 'opencode'); // what the service resolves too
export const REQUEST_TIMEOUT_MS = 300_000; // bounds every call: a wedged opencode must fail the run, not hang it
export const out = (line = ''): boolean => process.stdout.write(`${line}\n`);

export const MODES = ['per-message', 'server', 'server-shared', 'direct'] as const;
/**
 * `server`: the default, an isolated pool (one sandboxed serve per session, OCPM_POOL_SIZE defaulting
 * to N); `server-shared`: OCPM_ISOLATION=off with one serve for every session (the cost baseline of
 * isolation); per-message runs sandboxed as by default; `direct`: a bare `opencode serve`.
 */
export type Mode = (typeof MODES)[number];
export type ServiceMode = Exclude<Mode, 'direct'>;

const { values: opts } = parseArgs({
  options: {
    sessions: { type: 'string', default: '1,5' },
    followups: { type: 'string', default: '3' },
    gaps: { type: 'string', default: '0,6000' },
    'latency-per-token-ms': { type: 'string', default: '5' },
    'first-token-ms': { type: 'string', default: '100' },
    'opencode-env': { type: 'string', multiple: true, default: [] },
    'service-env': { type: 'string', multiple: true, default: [] },
    modes: { type: 'string', default: 'per-message,server,server-shared,direct' },
    'log-dir': { type: 'string' },
  },
});
const pairs = (list: string[]): Record<string, string> =>
  Object.fromEntries(list.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
export const args = {
  sessions: opts.sessions.split(',').map(Number),
  followups: Number(opts.followups),
  /** ms from sending a session's PUT to sending its first message (0: as soon as the PUT returned). */
  gaps: opts.gaps.split(',').map(Number),
  latencyPerTokenMs: Number(opts['latency-per-token-ms']),
  firstTokenMs: Number(opts['first-token-ms']),
  /** Which scenarios run (a ratio needs both of its scenarios for an N and gap). */
  modes: opts.modes.split(',') as Mode[],
  /** Where each service's JSON log goes (`<mode>-N<n>-gap<ms>.log`), for finding out why a run looks wrong. */
  logDir: opts['log-dir'],
  /** NAME=VALUE settings for opencode in every scenario (the service passes OPENCODE_* on). */
  opencodeEnv: pairs(opts['opencode-env']),
  /** OCPM_* settings of the service in its scenarios (e.g. OCPM_ISOLATION_LAYERS_OFF=… to price a sandbox layer). */
  serviceEnv: pairs(opts['service-env']),
};
const counts = [...args.sessions, ...args.gaps, args.followups, args.latencyPerTokenMs, args.firstTokenMs];
const badEnv = opts['opencode-env'].some((pair) => !/^OPENCODE_[A-Z0-9_]+=/.test(pair)) || opts['service-env'].some((pair) => !/^OCPM_[A-Z0-9_]+=/.test(pair));
const badModes = args.modes.some((mode) => !MODES.includes(mode));
if (badModes || !counts.every((n) => Number.isInteger(n) && n >= 0) || args.sessions.some((n) => n < 1) || badEnv) {
  process.stderr.write(
    'usage: node --import tsx bench/compare.ts [--sessions 1,5] [--followups 3] [--gaps 0,6000] [--latency-per-token-ms 5] [--first-token-ms 100] [--opencode-env OPENCODE_X=1 ...] [--service-env OCPM_X=1 ...] [--modes per-message,server,server-shared,direct] [--log-dir DIR]\n',
  );
  process.exit(2);
}

export interface Stats {
  p50: number;
  p95: number;
  n: number;
}

/** p50/p95 of the samples; null without any (a scenario whose turns all failed has no latency). */
export function stats(ms: number[]): Stats | null {
  return ms.length === 0 ? null : { p50: percentile(ms, 0.5), p95: percentile(ms, 0.95), n: ms.length };
}

export interface Disk {
  /** True when every session had its own opencode home (<data>/opencode/sessions/<id>) to measure. */
  perSessionHome: boolean;
  /** Per session: its home; without homes, (data dir + opencode home) / N. */
  p50Mb: number;
  maxMb: number;
  /** The data dir and the opencode HOME of the scenario, sessions included (not the workspaces). */
  totalMb: number;
}

export interface Scenario {
  mode: Mode;
  sessions: number;
  gapMs: number;
  messages: number;
  /** From the send of each session's first message to its answer. */
  first: Stats | null;
  followup: Stats | null;
  /** From the PUT (or the bare serve's session creation) to a warm session; null when not measured. */
  warm: Stats | null;
  /** Sessions whose warm-up poll saw no opencode session before the first answer came back. */
  notWarmBeforeFirstAnswer: number;
  peakRssMb: number | null;
  rootPeakRssMb: number | null;
  /** opencode_manager_process_spawns_total{outcome="started"}, 1 for direct. */
  spawns: number | null;
  spawnsPer100: number | null;
  /** opencode_manager_server_start_duration_seconds_count (healthy server starts), 1 for direct. */
  serverStarts: number | null;
  disk: Disk | null;
  wrongAnswers: string[];
  failed: string[];
  leftoverPids: number[];
  /** Why the scenario stopped early (the service never ready, every turn of a round failed…). */
  error: string | null;
}
