// Where the benchmarks put their results (bench/results/<kind>-<ISO time>.json and .md, never
// committed), and the nearest-rank percentile they all report.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../test/helpers/fixtures.js';

export const RESULTS_DIR = path.join(PROJECT_ROOT, 'bench', 'results');

/** Nearest-rank percentile: with 1 sample p50 = p95 = that sample, nothing is interpolated. */
export function percentile(samples: readonly number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? 0;
}

/**
 * Writes `<name>.json` (and `<name>.md` when markdown is given) into bench/results/, where `name` is
 * `<kind>-<ISO time with : and . as ->`; returns the paths relative to the project, for the summary.
 */
export function writeResults(kind: string, startedAt: Date, json: unknown, markdown?: string): { json: string; markdown?: string } {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const name = `${kind}-${startedAt.toISOString().replace(/[:.]/g, '-')}`;
  const jsonFile = path.join(RESULTS_DIR, `${name}.json`);
  writeFileSync(jsonFile, `${JSON.stringify(json, null, 2)}\n`);
  const relative = (file: string): string => path.relative(PROJECT_ROOT, file);
  if (markdown === undefined) return { json: relative(jsonFile) };
  const markdownFile = path.join(RESULTS_DIR, `${name}.md`);
  writeFileSync(markdownFile, `${markdown}\n`);
  return { json: relative(jsonFile), markdown: relative(markdownFile) };
}
