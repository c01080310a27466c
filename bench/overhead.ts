// The manager's own cost per turn in server mode, isolated from opencode and the model: the same
// fake `opencode serve` (test/fixtures/fake-opencode, answers at once) is called directly and
// through the service, turn by turn, interleaved, so machine noise hits both sides alike. The
// difference is what the manager adds: HTTP API, validation, scheduling, registry writes, waiting
// for the session's idle event on the bus.
// Usage: node --import tsx bench/overhead.ts [--turns 300]   (bench/README.md)
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { findFreePort } from '../src/util/free-port.js';
import { stopChild, waitForLine } from '../test/helpers/child-process.js';
import { FAKE_OPENCODE, FAKE_OPENCODE_READ_PATHS, PROJECT_ROOT } from '../test/helpers/fixtures.js';
import { callOk } from '../test/helpers/http.js';
import { startReadyService } from '../test/helpers/service-binary.js';
import { percentile, writeResults } from './results.js';

const WARMUP_TURNS = 20;
const out = (line = ''): boolean => process.stdout.write(`${line}\n`);

const { values: opts } = parseArgs({ options: { turns: { type: 'string', default: '300' } } });
const TURNS = Number(opts.turns);
if (!Number.isInteger(TURNS) || TURNS < 10) {
  process.stderr.write('usage: node --import tsx bench/overhead.ts [--turns 300]   (at least 10)\n');
  process.exit(2);
}

/** A 2xx answer's body, with exactly the given authorization. */
const json = <T>(url: string, method: string, body: unknown, auth: Record<string, string>): Promise<T> => callOk<T>(url, method, body, auth);
const stop = async (child: ChildProcess): Promise<number | null> => (await stopChild(child, 10_000)).code;

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ocpm-overhead-'));
const children: ChildProcess[] = [];
try {
  const baseEnv = { PATH: process.env.PATH ?? '', HOME: tmp, XDG_DATA_HOME: path.join(tmp, 'xdg') };

  // The floor: the fake serve alone, called as a client of opencode would.
  const password = randomBytes(16).toString('hex');
  const port = await findFreePort();
  const direct = spawn(FAKE_OPENCODE, ['serve', '--hostname', '127.0.0.1', '--port', String(port)], {
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { ...baseEnv, OPENCODE_SERVER_PASSWORD: password },
  });
  children.push(direct);
  await waitForLine(direct, 'listening line', (line) => (line.includes('listening on') ? true : undefined), 60_000);
  const directBase = `http://127.0.0.1:${port}`;
  const auth = { authorization: `Basic ${Buffer.from(`opencode:${password}`).toString('base64')}` };
  const directDir = path.join(tmp, 'direct-ws');
  mkdirSync(directDir, { recursive: true });
  const q = `directory=${encodeURIComponent(directDir)}`;
  const directSession = await json<{ id: string }>(`${directBase}/session?${q}`, 'POST', { title: 'direct' }, auth);
  const sendDirect = async (text: string): Promise<void> => {
    await json(`${directBase}/session/${directSession.id}/message?${q}`, 'POST', { parts: [{ type: 'text', text }] }, auth);
  };

  // The service in server mode over its own fake serve.
  const token = randomBytes(16).toString('hex');
  const profile = process.env.OCPM_BENCH_CPU_PROF === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${process.env.OCPM_BENCH_CPU_PROF}`];
  // The service as production runs it: the compiled build (`npm run build`), not tsx.
  if (!existsSync(path.join(PROJECT_ROOT, 'dist', 'main.js')))
    throw new Error('dist/main.js is missing: run `npm run build` first (npm run bench:overhead does)');
  const started = await startReadyService(
    {
      ...baseEnv,
      PORT: '0',
      HOST: '127.0.0.1',
      OCPM_OPENCODE_BIN: FAKE_OPENCODE,
      OCPM_SANDBOX_READ_PATHS: FAKE_OPENCODE_READ_PATHS,
      OCPM_MODE: 'server',
      OCPM_API_TOKEN: token,
      OCPM_RATE_LIMIT_PER_MIN: '0',
      OCPM_WORKSPACE_ROOT: path.join(tmp, 'ws'),
      OCPM_DATA_DIR: path.join(tmp, 'data'),
      OCPM_LOG_LEVEL: 'info',
    },
    { nodeArgs: [...profile, 'dist/main.js'] },
  );
  const service = started.child;
  children.push(service);
  const serviceBase = started.base;
  const bearer = { authorization: `Bearer ${token}` };
  await json(`${serviceBase}/api/sessions/overhead`, 'PUT', { workspace: 'overhead' }, bearer);
  const sendService = async (text: string): Promise<void> => {
    await json(`${serviceBase}/api/sessions/overhead/messages`, 'POST', { text }, bearer);
  };

  // The hop alone: an authenticated API call through the same middleware that runs no turn.
  const sendHop = async (): Promise<void> => {
    const res = await fetch(`${serviceBase}/api/sessions/overhead`, { headers: bearer });
    if (!res.ok) throw new Error(`GET session: ${res.status}`);
    await res.text();
  };
  const timed = async (send: (text: string) => Promise<void>, text: string): Promise<number> => {
    const started = performance.now();
    await send(text);
    return performance.now() - started;
  };
  for (let i = 0; i < WARMUP_TURNS; i += 1) {
    await sendDirect(`warm ${i}`);
    await sendService(`warm ${i}`);
  }
  const directMs: number[] = [];
  const serviceMs: number[] = [];
  const differences: number[] = [];
  const hopMs: number[] = [];
  for (let i = 0; i < TURNS; i += 1) {
    hopMs.push(await timed(sendHop, ''));
    // Alternate who goes first, so neither side always meets a warmer cache.
    const [d, s] =
      i % 2 === 0
        ? [await timed(sendDirect, `turn ${i}`), await timed(sendService, `turn ${i}`)]
        : ([await timed(sendService, `turn ${i}`), await timed(sendDirect, `turn ${i}`)].reverse() as [number, number]);
    directMs.push(d);
    serviceMs.push(s);
    differences.push(s - d);
  }
  const round = (ms: number): number => Math.round(ms * 100) / 100;
  const result = {
    turns: TURNS,
    direct: { p50: round(percentile(directMs, 0.5)), p95: round(percentile(directMs, 0.95)) },
    service: { p50: round(percentile(serviceMs, 0.5)), p95: round(percentile(serviceMs, 0.95)) },
    overhead: { p50: round(percentile(differences, 0.5)), p95: round(percentile(differences, 0.95)) },
    hop: { p50: round(percentile(hopMs, 0.5)), p95: round(percentile(hopMs, 0.95)) },
    targetP50Ms: 5,
    serviceExit: await stop(service),
  };
  const table = [
    `## overhead: the manager's cost per server-mode turn (${TURNS} interleaved turns, fake opencode serve, ${os.cpus().length} CPUs)`,
    '',
    '| what | p50 ms | p95 ms |',
    '|---|---:|---:|',
    `| direct call to opencode serve | ${result.direct.p50} | ${result.direct.p95} |`,
    `| through the service (server mode) | ${result.service.p50} | ${result.service.p95} |`,
    `| **manager overhead per turn** (paired difference) | **${result.overhead.p50}** | ${result.overhead.p95} |`,
    `| of which the extra HTTP hop: an API call that runs no turn (GET /api/sessions/:id) | ${result.hop.p50} | ${result.hop.p95} |`,
    '',
    `Target: overhead p50 < ${result.targetP50Ms} ms: **${result.overhead.p50 < result.targetP50Ms ? 'pass' : 'miss'}**. Service exit code after SIGTERM: ${String(result.serviceExit)}.`,
  ].join('\n');
  out(table);
  const files = writeResults('overhead', new Date(), result, table);
  out(`\nresults: ${files.json} and ${files.markdown}`);
} finally {
  for (const child of children) await stop(child);
  rmSync(tmp, { recursive: true, force: true });
}
