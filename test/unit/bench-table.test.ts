// bench/write-table.ts: the table of the latest benchmark results replaces exactly the block between
// the markers of a file, and a file without the markers is left alone with a reason.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { END_MARKER, START_MARKER, latestResults, renderTable, writeTable } from '../../bench/write-table.js';
import { PROJECT_ROOT, makeTempDir } from '../helpers/fixtures.js';

const OVERHEAD_OLD = {
  turns: 100,
  direct: { p50: 1, p95: 2 },
  service: { p50: 3, p95: 4 },
  overhead: { p50: 9.99, p95: 20 },
  hop: { p50: 1, p95: 1 },
  targetP50Ms: 5,
  serviceExit: 0,
};
const OVERHEAD_NEW = {
  turns: 300,
  direct: { p50: 1.5, p95: 2.5 },
  service: { p50: 4.25, p95: 6 },
  overhead: { p50: 2.75, p95: 3.5 },
  hop: { p50: 0.5, p95: 0.75 },
  targetP50Ms: 5,
  serviceExit: 0,
};
const ENDPOINTS = {
  args: { sessions: 1000, streams: 100, durationS: 10, mode: 'server' },
  table: [
    { what: 'status, 1000 sessions', measured: '2500 req/s; **p99 12.5 ms**', target: 'p99 < 10 ms', verdict: 'miss' },
    { what: 'event-loop lag, 0 streams (idle)', measured: 'p50 0.2 ms, p99 3 ms', target: 'none (reported)', verdict: '–' },
  ],
};
const COMPARE = {
  args: { followups: 3, firstTokenMs: 100 },
  results: [
    {
      mode: 'server',
      sessions: 5,
      first: { p50: 1200 },
      followup: { p50: 800 },
      peakRssMb: 640,
      spawnsPer100: 5,
      failed: [],
      wrongAnswers: [],
      leftoverPids: [],
    },
    {
      mode: 'per-message',
      sessions: 5,
      first: { p50: 3100 },
      followup: { p50: 2900 },
      peakRssMb: 900,
      spawnsPer100: 100,
      failed: ['x'],
      wrongAnswers: [],
      leftoverPids: [],
    },
  ],
  derived: { 5: { managerOverheadMsPerTurn: 12 } },
};

describe('bench/write-table', () => {
  let temp: { dir: string; remove: () => Promise<void> };
  let results: string;
  before(async () => {
    temp = await makeTempDir('bench-table');
    results = path.join(temp.dir, 'results');
    await mkdir(results);
    const put = (name: string, json: unknown): Promise<void> => writeFile(path.join(results, name), JSON.stringify(json));
    await put('overhead-2026-11-28T22-18-25-095Z.json', OVERHEAD_OLD);
    await put('overhead-2026-11-29T00-22-05-916Z.json', OVERHEAD_NEW);
    await put('endpoints-2026-11-29T00-02-17-655Z.json', ENDPOINTS);
    await put('compare-2026-11-29T00-35-34-336Z.json', COMPARE);
    // Not results of `npm run bench`, or not JSON: ignored.
    await put('soak-per-message-2026-11-30T00-00-00-000Z.json', { ok: true });
    await writeFile(path.join(results, 'compare-2026-11-30T00-00-00-000Z.md'), '| old |');
  });
  after(async () => {
    await temp.remove();
  });

  it('takes the newest result of each benchmark, by the time in its name', () => {
    const latest = latestResults(results);
    assert.deepEqual(Object.keys(latest).sort(), ['compare', 'endpoints', 'overhead']);
    assert.equal(latest.overhead?.file, 'overhead-2026-11-29T00-22-05-916Z.json');
    assert.equal(latest.overhead?.at.toISOString(), '2026-11-29T00:22:05.916Z');
    assert.deepEqual(latestResults(path.join(temp.dir, 'nowhere')), {});
  });

  it('renders one row per figure with its value and target verdict, then the runs they come from', () => {
    const lines = renderTable(latestResults(results)).split('\n');
    assert.equal(lines[0], '| benchmark | figure | value | target |');
    const row = (prefix: string): string => {
      const found = lines.filter((line) => line.startsWith(prefix));
      assert.equal(found.length, 1, `one row starting with ${prefix}: ${lines.join('\n')}`);
      return found[0] as string;
    };
    assert.match(row('| overhead | manager overhead per server-mode turn'), /\| 2\.75 \/ 3\.5 ms \| p50 < 5 ms: pass \|$/);
    assert.match(row('| endpoints | status, 1000 sessions |'), /\| 2500 req\/s; \*\*p99 12\.5 ms\*\* \| p99 < 10 ms: \*\*miss\*\* \|$/);
    assert.match(row('| compare | N=5 per-message'), /\| 3100 \/ 2900 ms, 900 MB, 100; \*\*1 failed, wrong or leftover\*\* \|/);
    assert.match(row('| compare | N=5: manager overhead'), /\| 12 ms \|/);
    assert.equal(row('- overhead: '), '- overhead: `bench/results/overhead-2026-11-29T00-22-05-916Z.json`, 2026-11-29 00:22 UTC, 300 interleaved turns');
    assert.match(row('- endpoints: '), /1000 sessions, 100 SSE streams, server mode, 10 s per load run$/);
    assert.match(row('- compare: '), /compare-2026-11-29T00-35-34-336Z\.json`, 2026-11-29 00:35 UTC, real opencode, 3 follow-ups/);
    assert.ok(!lines.some((line) => line.includes('9.99')), 'an older overhead result made it into the table');
    assert.equal(renderTable({}), '_No benchmark results yet: run `npm run bench`._');
  });

  it('replaces only the block between the markers, and a second run changes nothing', async () => {
    const file = path.join(temp.dir, 'performance.md');
    const head = '# Performance\n\nSome prose that stays.\n\n';
    const tail = '\n\nMore prose after the table.\n';
    await writeFile(file, `${head}${START_MARKER}\n| stale | table |\n${END_MARKER}${tail}`);
    assert.deepEqual(writeTable(file, results), { written: true });
    const once = await readFile(file, 'utf8');
    assert.ok(once.startsWith(`${head}${START_MARKER}\n`), once);
    assert.ok(once.endsWith(`\n${END_MARKER}${tail}`), once);
    assert.ok(!once.includes('| stale | table |'));
    const block = once.slice(once.indexOf(START_MARKER), once.indexOf(END_MARKER));
    assert.ok(block.includes(renderTable(latestResults(results))), block);
    assert.deepEqual(writeTable(file, results), { written: true });
    assert.equal(await readFile(file, 'utf8'), once);
  });

  it('leaves a file without both markers, in order, as it is and says why', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['no-markers.md', '# Performance\n\nNo markers here.\n', /has no <!-- bench-table:start --> line/],
      ['no-end.md', `# P\n${START_MARKER}\nold\n`, /has no <!-- bench-table:end --> line/],
      ['reversed.md', `# P\n${END_MARKER}\nold\n${START_MARKER}\n`, /comes before/],
      ['twice.md', `${START_MARKER}\n${END_MARKER}\n${START_MARKER}\n${END_MARKER}\n`, /more than one pair/],
    ];
    for (const [name, text, reason] of cases) {
      const file = path.join(temp.dir, name);
      await writeFile(file, text);
      const outcome = writeTable(file, results);
      assert.equal(outcome.written, false, name);
      assert.match(outcome.written ? '' : outcome.reason, reason, name);
      assert.equal(await readFile(file, 'utf8'), text, `${name} was changed`);
    }
    const missing = writeTable(path.join(temp.dir, 'missing.md'), results);
    assert.equal(missing.written, false);
  });

  it('as a command: exit 1 and a message on stderr for a file without markers, exit 0 once it has them', async () => {
    const file = path.join(temp.dir, 'cli.md');
    await writeFile(file, 'no markers\n');
    const run = () =>
      spawnSync(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'bench', 'write-table.ts'), file, '--results', results], {
        cwd: PROJECT_ROOT,
        encoding: 'utf8',
      });
    const refused = run();
    assert.equal(refused.status, 1, refused.stderr);
    assert.match(refused.stderr, /bench table NOT written: .*cli\.md was left as it is: it has no <!-- bench-table:start --> line/);
    assert.equal(await readFile(file, 'utf8'), 'no markers\n');
    await writeFile(file, `${START_MARKER}\n${END_MARKER}\n`);
    const written = run();
    assert.equal(written.status, 0, written.stderr);
    assert.match(await readFile(file, 'utf8'), /\| overhead \| manager overhead per server-mode turn/);
  });
});
