// Writes the current benchmark figures (the latest compare, overhead and endpoints results in
// bench/results/) as a markdown table into a file, between the lines
//   <!-- bench-table:start -->   and   <!-- bench-table:end -->
// and nothing else of the file. Without both markers (in that order) the file is left alone.
// Usage: node --import tsx bench/write-table.ts [FILE (default docs/performance.md)] [--results DIR]
// Exit code 0 when the table was written, 1 when it was not (the reason is on stderr).
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../test/helpers/fixtures.js';
import { RESULTS_DIR } from './results.js';

export const START_MARKER = '<!-- bench-table:start -->';
export const END_MARKER = '<!-- bench-table:end -->';

// What the table reads of each result file. Every field is optional: older files lack some.
interface Pair {
  p50?: number;
  p95?: number;
}
interface OverheadJson {
  turns?: number;
  direct?: Pair;
  service?: Pair;
  overhead?: Pair;
  hop?: Pair;
  targetP50Ms?: number;
}
interface EndpointsJson {
  args?: { sessions?: number; streams?: number; mode?: string; durationS?: number };
  table?: Array<{ what?: string; measured?: string; target?: string; verdict?: string }>;
}
interface CompareScenario {
  mode?: string;
  sessions?: number;
  /** Since --gaps: ms between a session's PUT and its first message. */
  gapMs?: number;
  first?: Pair | null;
  followup?: Pair | null;
  peakRssMb?: number | null;
  spawnsPer100?: number | null;
  serverStarts?: number | null;
  disk?: { p50Mb?: number; maxMb?: number; perSessionHome?: boolean } | null;
  failed?: unknown[];
  wrongAnswers?: unknown[];
  leftoverPids?: unknown[];
  error?: string | null;
}
/** Since --gaps: one row per N and gap, with the targets judged. */
interface CompareDerivedRow {
  sessions?: number;
  gapMs?: number;
  values?: Record<string, number | null | undefined>;
  targets?: Array<{ label?: string; value?: number | null; max?: number; verdict?: string }>;
}
interface CompareJson {
  args?: { followups?: number; firstTokenMs?: number; gaps?: number[] };
  results?: CompareScenario[];
  /** Before --gaps: ratios by N. */
  derived?: Record<string, Record<string, number | undefined>> | CompareDerivedRow[];
}

export interface LatestResult<T> {
  readonly file: string;
  /** When the run wrote it, from the file name (`<kind>-<ISO time with : and . as ->.json`). */
  readonly at: Date;
  readonly json: T;
}

/** The latest result of each benchmark `npm run bench` runs. */
export interface LatestResults {
  compare?: LatestResult<CompareJson>;
  overhead?: LatestResult<OverheadJson>;
  endpoints?: LatestResult<EndpointsJson>;
}
type Kind = keyof LatestResults;

const RESULT_FILE = /^(compare|overhead|endpoints)-(\d{4}-\d\d-\d\d)T(\d\d)-(\d\d)-(\d\d)-(\d{3})Z\.json$/;

/** The newest result file of each kind in `dir` (the ISO times in the names sort in time order). */
export function latestResults(dir: string): LatestResults {
  const latest: LatestResults = {};
  const names = existsSync(dir)
    ? readdirSync(dir)
        .filter((name) => RESULT_FILE.test(name))
        .sort()
    : [];
  for (const name of names) {
    const [, kind, day, h, m, s, ms] = RESULT_FILE.exec(name) as unknown as [string, Kind, string, string, string, string, string];
    // Read as the shape the table expects; a field an older file lacks shows as –.
    const json = JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as CompareJson & OverheadJson & EndpointsJson;
    latest[kind] = { file: name, at: new Date(`${day}T${h}:${m}:${s}.${ms}Z`), json };
  }
  return latest;
}

interface Row {
  readonly benchmark: string;
  readonly figure: string;
  readonly value: string;
  readonly target: string;
}

interface Section {
  readonly rows: Row[];
  /** The run the rows come from: its file, time and parameters. */
  readonly source: string;
}

const cell = (value: string | number | undefined | null): string =>
  value === undefined || value === null || value === '' ? '–' : String(value).replace(/\|/g, '\\|').replace(/\n/g, ' ');
const sourceOf = (benchmark: string, result: LatestResult<unknown>, what: string): string =>
  `${benchmark}: \`bench/results/${result.file}\`, ${result.at.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${what}`;

function overheadSection(result: LatestResult<OverheadJson>): Section {
  const r = result.json;
  const verdict = typeof r.overhead?.p50 === 'number' && typeof r.targetP50Ms === 'number' ? (r.overhead.p50 < r.targetP50Ms ? 'pass' : '**miss**') : '–';
  const rows = [
    {
      benchmark: 'overhead',
      figure: 'manager overhead per server-mode turn, p50 / p95',
      value: `${cell(r.overhead?.p50)} / ${cell(r.overhead?.p95)} ms`,
      target: `p50 < ${cell(r.targetP50Ms)} ms: ${verdict}`,
    },
    { benchmark: 'overhead', figure: 'of which the extra HTTP hop, p50 / p95', value: `${cell(r.hop?.p50)} / ${cell(r.hop?.p95)} ms`, target: '–' },
    {
      benchmark: 'overhead',
      figure: 'turn: direct to opencode serve / through the service, p50',
      value: `${cell(r.direct?.p50)} / ${cell(r.service?.p50)} ms`,
      target: '–',
    },
  ];
  return { rows, source: sourceOf('overhead', result, `${cell(r.turns)} interleaved turns`) };
}

function endpointsSection(result: LatestResult<EndpointsJson>): Section {
  const r = result.json;
  const a = r.args ?? {};
  const rows = (r.table ?? []).map((row) => ({
    benchmark: 'endpoints',
    figure: cell(row.what),
    value: cell(row.measured),
    target: row.verdict === 'pass' || row.verdict === 'miss' ? `${cell(row.target)}: ${row.verdict === 'miss' ? '**miss**' : 'pass'}` : cell(row.target),
  }));
  return {
    rows,
    source: sourceOf(
      'endpoints',
      result,
      `${cell(a.sessions)} sessions, ${cell(a.streams)} SSE streams, ${cell(a.mode)} mode, ${cell(a.durationS)} s per load run`,
    ),
  };
}

function compareSection(result: LatestResult<CompareJson>): Section {
  const r = result.json;
  const at = (n: unknown, gap: unknown): string => `N=${cell(n as number | undefined)}${gap === undefined ? '' : ` gap ${cell(gap as number)} ms`}`;
  const rows: Row[] = (r.results ?? []).map((s) => {
    const problems = (s.failed?.length ?? 0) + (s.wrongAnswers?.length ?? 0) + (s.leftoverPids?.length ?? 0);
    const error = typeof s.error === 'string' ? `; **error: ${s.error.slice(0, 120)}**` : '';
    const extra =
      s.gapMs === undefined
        ? ''
        : `, disk/session p50 ${cell(s.disk?.p50Mb)} MB${s.disk?.perSessionHome === false ? ' (no own home: total / N)' : ''}, ${cell(s.serverStarts)} servers started`;
    return {
      benchmark: 'compare',
      figure: `${at(s.sessions, s.gapMs)} ${cell(s.mode)}: first / follow-up p50, peak RSS, spawns per 100 messages${s.gapMs === undefined ? '' : ', disk per session, servers started'}`,
      value: `${cell(s.first?.p50)} / ${cell(s.followup?.p50)} ms, ${cell(s.peakRssMb)} MB, ${cell(s.spawnsPer100)}${extra}${problems > 0 ? `; **${problems} failed, wrong or leftover**` : ''}${error}`,
      target: '–',
    };
  });
  const derived: CompareDerivedRow[] = Array.isArray(r.derived)
    ? r.derived
    : Object.entries(r.derived ?? {}).map(([n, values]) => ({ sessions: Number(n), values }));
  for (const d of derived) {
    const overhead = d.values?.managerOverheadMsPerTurn;
    if (overhead !== undefined && overhead !== null) {
      rows.push({
        benchmark: 'compare',
        figure: `${at(d.sessions, d.gapMs)}: manager overhead per turn (server − direct follow-up p50)`,
        value: `${cell(overhead)} ms`,
        target: '–',
      });
    }
    for (const t of d.targets ?? []) {
      rows.push({
        benchmark: 'compare',
        figure: `${at(d.sessions, d.gapMs)}: ${cell(t.label)}`,
        value: cell(t.value),
        target: `≤ ${cell(t.max)}: ${t.verdict === 'ok' ? 'pass' : '**miss**'}`,
      });
    }
  }
  const gaps = r.args?.gaps === undefined ? '' : `, gaps ${r.args.gaps.join(', ')} ms`;
  return {
    rows,
    source: sourceOf('compare', result, `real opencode, ${cell(r.args?.followups)} follow-ups${gaps}, stub model first token ${cell(r.args?.firstTokenMs)} ms`),
  };
}

/** The markdown table of the figures in `results`, then the runs they come from; a note instead when there are none. */
export function renderTable(results: LatestResults): string {
  const sections = [
    ...(results.overhead === undefined ? [] : [overheadSection(results.overhead)]),
    ...(results.endpoints === undefined ? [] : [endpointsSection(results.endpoints)]),
    ...(results.compare === undefined ? [] : [compareSection(results.compare)]),
  ];
  if (sections.length === 0) return '_No benchmark results yet: run `npm run bench`._';
  return [
    '| benchmark | figure | value | target |',
    '|---|---|---|---|',
    ...sections.flatMap((section) => section.rows).map((row) => `| ${row.benchmark} | ${row.figure} | ${row.value} | ${row.target} |`),
    '',
    'Runs:',
    '',
    ...sections.map((section) => `- ${section.source}`),
  ].join('\n');
}

/** `text` with the lines between the markers replaced by `table`; undefined (and why) when the markers are not there in order. */
export function replaceBlock(text: string, table: string): { text: string } | { reason: string } {
  const start = text.indexOf(START_MARKER);
  const end = text.indexOf(END_MARKER);
  if (start === -1 || end === -1) return { reason: `it has no ${start === -1 ? START_MARKER : END_MARKER} line` };
  if (end < start) return { reason: `${END_MARKER} comes before ${START_MARKER}` };
  if (text.indexOf(START_MARKER, start + 1) !== -1 || text.indexOf(END_MARKER, end + 1) !== -1) return { reason: 'it has more than one pair of markers' };
  const note = '<!-- generated by `npm run bench` (bench/write-table.ts) from the latest bench/results/*.json: edits between the markers are overwritten -->';
  return { text: `${text.slice(0, start + START_MARKER.length)}\n${note}\n\n${table}\n\n${text.slice(end)}` };
}

/** Writes the table of the latest results in `resultsDir` into `file`; leaves the file alone (and says why) otherwise. */
export function writeTable(file: string, resultsDir = RESULTS_DIR): { written: true } | { written: false; reason: string } {
  if (!existsSync(file)) return { written: false, reason: `${file} does not exist` };
  const before = readFileSync(file, 'utf8');
  const replaced = replaceBlock(before, renderTable(latestResults(resultsDir)));
  if ('reason' in replaced) return { written: false, reason: `${file} was left as it is: ${replaced.reason}` };
  if (replaced.text !== before) writeFileSync(file, replaced.text);
  return { written: true };
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({ options: { results: { type: 'string' } }, allowPositionals: true });
  const file = path.resolve(positionals[0] ?? path.join(PROJECT_ROOT, 'docs', 'performance.md'));
  const outcome = writeTable(file, values.results === undefined ? RESULTS_DIR : path.resolve(values.results));
  if (outcome.written) {
    process.stdout.write(`bench table written to ${path.relative(process.cwd(), file)}\n`);
  } else {
    process.stderr.write(`bench table NOT written: ${outcome.reason}. Put the lines ${START_MARKER} and ${END_MARKER} where the table goes.\n`);
    process.exitCode = 1;
  }
}
