// Boot time with the real opencode: from the service's spawn (`node dist/main.js`, as `npm start`) to
// its first 200 on /readyz, in each mode, with a fresh data dir (first boot) and again over the same
// data dir (a restart: the boot cache answers what opencode answered before), alternating the modes so
// a noisy neighbour hits them alike. Also reports the manager's own boot (its log, from "Initializing"
// to "initialized") and the opencode processes boot started, by kind.
// Usage: npm run bench:boot -- [--repeats 3] [--modes per-message,server-shared,server-isolated]
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStubLlm } from '../test/fixtures/stub-llm/server.mjs';
import { PROJECT_ROOT } from '../test/helpers/fixtures.js';
import { call } from '../test/helpers/http.js';
import { sample } from '../test/helpers/metrics-text.js';
import { realOpencodeHome } from '../test/helpers/real-opencode.js';
import { startReadyService, stopService } from '../test/helpers/service-binary.js';
import { waitFor } from '../test/helpers/wait-for.js';
import { benchCli } from './cli.js';
import { percentile, writeResults } from './results.js';

const USAGE = 'usage: node --import tsx bench/boot.ts [--repeats 3] [--modes per-message,server-shared,server-isolated]   (bench/README.md)\n';
const { opts, usage } = benchCli(USAGE, {
  repeats: { type: 'string', default: '3' },
  modes: { type: 'string', default: 'per-message,server-shared,server-isolated' },
  help: { type: 'boolean' },
} as const);
const MODE_ENV: Record<string, Record<string, string>> = {
  'per-message': { OCPM_MODE: 'per-message', OCPM_ISOLATION: 'off' },
  'server-shared': { OCPM_MODE: 'server', OCPM_ISOLATION: 'off' },
  'server-isolated': { OCPM_MODE: 'server', OCPM_ISOLATION: 'required' },
};
const repeats = Number(opts.repeats);
const modes = opts.modes.split(',');
if (!Number.isInteger(repeats) || repeats < 1 || modes.some((mode) => MODE_ENV[mode] === undefined)) usage(2);
const out = (line = ''): boolean => process.stdout.write(`${line}\n`);
if (!existsSync(path.join(PROJECT_ROOT, 'dist', 'main.js'))) throw new Error('dist/main.js is missing: run `npm run build` first (npm run bench:boot does)');

interface Boot {
  readonly mode: string;
  readonly restart: boolean;
  readonly readyMs: number;
  readonly managerMs: number;
  readonly spawns: Record<string, number>;
}

/** From the log line "Initializing OpenCode process manager..." to "OpenCode process manager initialized". */
function managerBootMs(log: string): number {
  const at = (message: string): number => {
    for (const line of log.split('\n')) {
      if (!line.startsWith('{')) continue;
      const entry = JSON.parse(line) as { message?: string; timestamp?: string };
      if (entry.message === message && entry.timestamp !== undefined) return Date.parse(entry.timestamp);
    }
    return Number.NaN;
  };
  return at('OpenCode process manager initialized') - at('Initializing OpenCode process manager...');
}

const startedAt = new Date();
const stub = await startStubLlm();
const boots: Boot[] = [];
try {
  for (let round = 0; round < repeats; round++) {
    for (const mode of modes) {
      const root = mkdtempSync(path.join(os.tmpdir(), 'ocpm-boot-'));
      try {
        const env = {
          ...(await realOpencodeHome(stub, path.join(root, 'home'))),
          ...MODE_ENV[mode],
          PORT: '0',
          HOST: '127.0.0.1',
          OCPM_AUTH: 'disabled',
          OCPM_DATA_DIR: path.join(root, 'data'),
          OCPM_WORKSPACE_ROOT: path.join(root, 'workspaces'),
          OCPM_LOG_LEVEL: 'info',
        };
        for (const restart of [false, true]) {
          const spawnedAt = performance.now();
          const logFile = path.join(root, `service-${String(restart)}.log`);
          const service = await startReadyService(env, { nodeArgs: ['dist/main.js'], logFile }, 120_000);
          try {
            await waitFor('ready', async () => (await call(`${service.base}/readyz`, 'GET')).status === 200, 120_000, 20);
            const readyMs = Math.round(performance.now() - spawnedAt);
            const metrics = (await call(`${service.base}/metrics`, 'GET')).body as string;
            const spawns = Object.fromEntries(
              ['run', 'cli', 'serve'].map((kind) => [kind, sample(metrics, 'opencode_manager_process_spawns_total', { kind, outcome: 'started' })]),
            );
            const managerMs = managerBootMs(readFileSync(logFile, 'utf8'));
            boots.push({ mode, restart, readyMs, managerMs, spawns });
            out(
              `${mode.padEnd(16)} ${restart ? 'restart' : 'first  '} ready in ${String(readyMs).padStart(6)} ms (manager ${String(managerMs).padStart(6)} ms)  spawns ${JSON.stringify(spawns)}`,
            );
          } finally {
            await stopService(service);
          }
        }
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    }
  }
} finally {
  await stub.close();
}

const rows = modes.flatMap((mode) =>
  [false, true].map((restart) => {
    const runs = boots.filter((boot) => boot.mode === mode && boot.restart === restart);
    const samples = runs.map((boot) => boot.readyMs);
    const manager = runs.map((boot) => boot.managerMs);
    return {
      mode,
      boot: restart ? 'restart' : 'first',
      p50Ms: percentile(samples, 0.5),
      maxMs: Math.max(...samples),
      managerP50Ms: percentile(manager, 0.5),
      samples,
    };
  }),
);
const markdown = [
  `Boot to first /readyz 200, real opencode, ${repeats} run(s) per row (${os.cpus().length} cores):`,
  '',
  '| mode | boot | ready p50 ms | ready max ms | manager p50 ms |',
  '|---|---|---:|---:|---:|',
  ...rows.map((row) => `| ${row.mode} | ${row.boot} | ${row.p50Ms} | ${row.maxMs} | ${row.managerP50Ms} |`),
].join('\n');
out();
out(markdown);
const written = writeResults('boot', startedAt, { startedAt, repeats, rows, boots }, markdown);
out(`\nresults: ${written.json}${written.markdown === undefined ? '' : `, ${written.markdown}`}`);
