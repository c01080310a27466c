// The operator console's stream with many sessions: how long the snapshot takes to build and to
// arrive over HTTP, how large it is, and what a tick with nothing to send costs every
// OCPM_EVENTS_INTERVAL_MS: one frame read for all open consoles, plus one comparison per console.
// In-process service, fake opencode, per-message mode.
// Usage: node --import tsx bench/events.ts [--sessions 1000] [--turns 60] [--samples 30]
import { performance } from 'node:perf_hooks';
import { ConsoleFeed, readFrame } from '../src/http/console-feed.js';
import { managerSources } from '../src/http/routes/events.js';
import { callOk, TEST_API_TOKEN } from '../test/helpers/http.js';
import { startTestService } from '../test/helpers/test-service.js';
import { parseSse } from '../src/util/sse-parser.js';
import { benchCli } from './cli.js';
import { percentile, writeResults } from './results.js';

const out = (line = ''): boolean => process.stdout.write(`${line}\n`);
const USAGE = 'usage: node --import tsx bench/events.ts [--sessions 1000] [--turns 60] [--samples 30]\n';
const { opts } = benchCli(USAGE, {
  sessions: { type: 'string', default: '1000' },
  turns: { type: 'string', default: '60' },
  samples: { type: 'string', default: '30' },
  help: { type: 'boolean' },
} as const);
const args = { sessions: Number(opts.sessions), turns: Number(opts.turns), samples: Number(opts.samples) };

/** Runs `work` on `items` with at most `limit` at a time. */
async function inBatches<T>(items: readonly T[], limit: number, work: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += limit) await Promise.all(items.slice(i, i + limit).map(work));
}

/** Milliseconds of `samples` runs of `work`, after two unmeasured ones (JIT). */
function timeSync(samples: number, work: () => unknown): number[] {
  work();
  work();
  return Array.from({ length: samples }, () => {
    const start = performance.now();
    work();
    return performance.now() - start;
  });
}

/** Opens GET /api/events and resolves with the time to the whole snapshot event and its size. */
async function snapshotOverHttp(url: string): Promise<{ ms: number; bytes: number }> {
  const controller = new AbortController();
  const start = performance.now();
  const response = await fetch(`${url}/api/events`, { headers: { authorization: `Bearer ${TEST_API_TOKEN}` }, signal: controller.signal });
  if (response.body === null || response.status !== 200) throw new Error(`GET /api/events answered ${response.status}`);
  let result: { ms: number; bytes: number } | undefined;
  try {
    for await (const message of parseSse(response.body)) {
      if (message.event !== 'snapshot') continue;
      result = { ms: performance.now() - start, bytes: Buffer.byteLength(message.data) };
      break;
    }
  } finally {
    controller.abort();
  }
  if (result === undefined) throw new Error('the stream ended without a snapshot');
  return result;
}

const fmt = (samples: number[]): string => `p50 ${percentile(samples, 0.5).toFixed(2)} ms, p95 ${percentile(samples, 0.95).toFixed(2)} ms`;

const startedAt = new Date();
const svc = await startTestService({ OCPM_LOG_LEVEL: 'warn', OCPM_RATE_LIMIT_PER_MIN: '0' });
try {
  const ids = Array.from({ length: args.sessions }, (_, i) => `bench-${String(i).padStart(5, '0')}`);
  await inBatches(ids, 50, (id) => callOk(`${svc.url}/api/sessions/${id}`, 'PUT', { workspace: id }));
  await inBatches(ids.slice(0, args.turns), 10, (id) => callOk(`${svc.url}/api/sessions/${id}/messages`, 'POST', { text: `hello from ${id}` }));
  const { manager } = svc.service;
  const sources = managerSources(manager, () => manager.getStats());
  const feed = new ConsoleFeed();
  let bytes = 0;
  const build = timeSync(args.samples, () => (bytes = Buffer.byteLength(feed.snapshot(readFrame(sources)).json)));
  // A tick reads one frame for every open console (the hub), then compares it once per console.
  const frameRead = timeSync(args.samples, () => readFrame(sources));
  const frame = readFrame(sources);
  const idleCompare = timeSync(args.samples, () => feed.changes(frame));
  const http: Array<{ ms: number; bytes: number }> = [];
  for (let i = 0; i < args.samples; i += 1) http.push(await snapshotOverHttp(svc.url));
  const results = {
    sessions: args.sessions,
    recentTurns: sources.recentTurns().length,
    snapshotBytes: bytes,
    snapshotBytesPerSession: Math.round(bytes / args.sessions),
    buildMs: { p50: percentile(build, 0.5), p95: percentile(build, 0.95) },
    frameReadMs: { p50: percentile(frameRead, 0.5), p95: percentile(frameRead, 0.95) },
    idleComparePerConsoleMs: { p50: percentile(idleCompare, 0.5), p95: percentile(idleCompare, 0.95) },
    httpSnapshotMs: {
      p50: percentile(
        http.map((h) => h.ms),
        0.5,
      ),
      p95: percentile(
        http.map((h) => h.ms),
        0.95,
      ),
    },
  };
  const markdown = [
    `# GET /api/events with ${args.sessions} sessions (${startedAt.toISOString()})`,
    '',
    `- snapshot: ${(bytes / 1024).toFixed(0)} KiB (${results.snapshotBytesPerSession} B per session, ${results.recentTurns} recent turns)`,
    `- snapshot build (in-process): ${fmt(build)}`,
    `- a tick's frame (read once for all open consoles): ${fmt(frameRead)}`,
    `- comparing it for one console with nothing to send: ${fmt(idleCompare)}`,
    `- snapshot over HTTP (request to the whole event): ${fmt(http.map((h) => h.ms))}`,
  ].join('\n');
  out(markdown);
  const written = writeResults('events', startedAt, results, markdown);
  out(`\nresults: ${written.json}`);
} finally {
  await svc.close();
}
