// The tables of bench/compare.ts: one row per scenario, then the ratios per N and gap, with the
// targets of cheap isolation next to the values they judge.
import { args, type Mode, type Scenario } from './compare-args.js';

export interface Target {
  key: string;
  label: string;
  value: number | null;
  /** The value must be at most this. */
  max: number;
  verdict: 'ok' | 'missed';
}

export interface Derived {
  sessions: number;
  gapMs: number;
  /** Ratios and the manager overhead; null when a scenario it needs did not run or has no figure. */
  values: Record<string, number | null>;
  /** Only those whose value could be computed. */
  targets: Target[];
}

const round = (x: number, digits: number): number => Math.round(x * 10 ** digits) / 10 ** digits;
function ratio(a: number | null | undefined, b: number | null | undefined, digits = 1): number | null {
  return a === null || a === undefined || b === null || b === undefined || b === 0 ? null : round(a / b, digits);
}

/** Targets of the "cheap isolation" issue; `server` is the isolated pool. */
const TARGETS: Array<{ key: string; label: string; max: (gapMs: number) => number | undefined }> = [
  // The first message may pay for a warm-up still under way: more slack when it is sent at once.
  { key: 'isolatedFirstOverFollowupP50', label: 'isolated first p50 / isolated follow-up p50', max: (g) => (g === 0 ? 2 : g >= 6000 ? 1.5 : undefined) },
  { key: 'isolatedOverPerMessagePeakRss', label: 'isolated peak RSS / per-message peak RSS', max: () => 0.5 },
  { key: 'isolatedOverSharedPeakRss', label: 'isolated peak RSS / shared peak RSS', max: () => 2 },
  { key: 'isolatedOverSharedFollowupP50', label: 'isolated follow-up p50 / shared follow-up p50', max: () => 1.5 },
];

export function derived(results: Scenario[]): Derived[] {
  const rows: Derived[] = [];
  for (const n of args.sessions) {
    for (const gapMs of args.gaps) {
      const get = (m: Mode): Scenario | undefined => results.find((r) => r.sessions === n && r.gapMs === gapMs && r.mode === m);
      const [pm, sv, sh, dr] = [get('per-message'), get('server'), get('server-shared'), get('direct')];
      if ([pm, sv, sh, dr].filter((s) => s !== undefined).length < 2) continue;
      const values: Record<string, number | null> = {
        managerOverheadMsPerTurn: sv?.followup && dr?.followup ? sv.followup.p50 - dr.followup.p50 : null,
        perMessageOverServerFirstP50: ratio(pm?.first?.p50, sv?.first?.p50),
        perMessageOverServerFollowupP50: ratio(pm?.followup?.p50, sv?.followup?.p50),
        isolatedOverSharedFirstP50: ratio(sv?.first?.p50, sh?.first?.p50),
        // The targeted ones, to two decimals: the verdict judges the value printed.
        isolatedFirstOverFollowupP50: ratio(sv?.first?.p50, sv?.followup?.p50, 2),
        isolatedOverPerMessagePeakRss: ratio(sv?.peakRssMb, pm?.peakRssMb, 2),
        isolatedOverSharedPeakRss: ratio(sv?.peakRssMb, sh?.peakRssMb, 2),
        isolatedOverSharedFollowupP50: ratio(sv?.followup?.p50, sh?.followup?.p50, 2),
      };
      const targets: Target[] = [];
      for (const t of TARGETS) {
        const value = values[t.key] ?? null;
        const max = t.max(gapMs);
        if (value === null || max === undefined) continue;
        targets.push({ key: t.key, label: t.label, value, max, verdict: value <= max ? 'ok' : 'missed' });
      }
      rows.push({ sessions: n, gapMs, values, targets });
    }
  }
  return rows;
}

const cell = (v: string | number | null | undefined): string => (v === null || v === undefined ? '–' : String(v));

function scenarioRow(r: Scenario): string {
  const warm = r.warm === null ? '–' : `${r.warm.p50} / ${r.warm.p95}${r.notWarmBeforeFirstAnswer > 0 ? ` (${r.notWarmBeforeFirstAnswer} not yet)` : ''}`;
  const disk = r.disk === null ? '–' : `${r.disk.p50Mb} / ${r.disk.maxMb}${r.disk.perSessionHome ? '' : ' ¹'}`;
  const spawns = r.spawns === null ? '–' : `${r.spawns} (${cell(r.spawnsPer100)})`;
  const error = r.error === null ? '' : r.error.replace(/\|/g, '\\|').replace(/\s+/g, ' ').slice(0, 120);
  return (
    `| ${r.sessions} | ${r.gapMs} | ${r.mode} | ${cell(r.first?.p50)} | ${cell(r.first?.p95)} | ${cell(r.followup?.p50)} | ${cell(r.followup?.p95)} | ` +
    `${warm} | ${cell(r.peakRssMb)} | ${cell(r.rootPeakRssMb)} | ${disk} | ${cell(r.disk?.totalMb)} | ${cell(r.serverStarts)} | ${spawns} | ` +
    `${r.failed.length} | ${r.wrongAnswers.length} | ${r.leftoverPids.length} | ${error} |`
  );
}

function derivedRow(d: Derived): string {
  const v = d.values;
  const judged = (key: string): string => {
    const t = d.targets.find((x) => x.key === key);
    return t === undefined ? cell(v[key]) : `${t.value} (≤ ${t.max} ${t.verdict})`;
  };
  return (
    `| ${d.sessions} | ${d.gapMs} | ${cell(v.managerOverheadMsPerTurn)} | ${cell(v.perMessageOverServerFirstP50)} | ${cell(v.perMessageOverServerFollowupP50)} | ` +
    `${judged('isolatedFirstOverFollowupP50')} | ${judged('isolatedOverPerMessagePeakRss')} | ${judged('isolatedOverSharedPeakRss')} | ` +
    `${judged('isolatedOverSharedFollowupP50')} | ${cell(v.isolatedOverSharedFirstP50)} |`
  );
}

export function markdown(results: Scenario[], d: Derived[]): string {
  const env = Object.entries(args.opencodeEnv).map(([k, v]) => `${k}=${v}`);
  const missed = d.flatMap((row) =>
    row.targets.filter((t) => t.verdict === 'missed').map((t) => `N=${row.sessions} gap ${row.gapMs} ms: ${t.label} ${t.value} > ${t.max}`),
  );
  return [
    `## compare: followups ${args.followups}, gaps ${args.gaps.join(', ')} ms, stub first token ${args.firstTokenMs} ms, ${args.latencyPerTokenMs} ms/token` +
      (env.length === 0 ? '' : `, opencode env ${env.join(' ')}`),
    '',
    '| N | gap ms | mode | first p50 ms | first p95 ms | follow-up p50 ms | follow-up p95 ms | PUT→warm p50 / p95 ms | peak RSS MB | of which root MB | disk/session p50 / max MB | disk total MB | servers started | spawns (per 100 msgs) | failed turns | wrong answers | leftover procs | error |',
    '|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...results.map(scenarioRow),
    '',
    'gap: from sending a session’s PUT to sending its first message (0: as soon as the PUT answered); first-message latency counts from that send. ' +
      'PUT→warm is polled beside the first message, and only with a gap (– at gap 0 in the service modes, and in per-message); "not yet": no opencode session before the first answer.',
    '¹ no per-session opencode home in this mode: (data dir + opencode HOME) / N.',
    '',
    '| N | gap ms | manager overhead ms/turn (server − direct follow-up p50) | per-message/server first p50 | per-message/server follow-up p50 | isolated first / follow-up p50 | isolated / per-message peak RSS | isolated / shared peak RSS | isolated / shared follow-up p50 | isolated / shared first p50 |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...d.map(derivedRow),
    '',
    'isolated = `server`, shared = `server-shared`. Targets: isolated first/follow-up p50 ≤ 1.5 with a 6 s gap, ≤ 2 with none; isolated/per-message peak RSS ≤ 0.5; isolated/shared peak RSS ≤ 2; isolated/shared follow-up p50 ≤ 1.5.',
    ...(missed.length === 0 ? [] : ['', `Missed: ${missed.join('; ')}.`]),
    '',
  ].join('\n');
}
