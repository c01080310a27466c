// The processes of one bench/compare.ts scenario (the service or a bare `opencode serve`), their memory
// and what they leave on disk.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { StubLlm } from '../test/fixtures/stub-llm/server.mjs';
import { OFFLINE_DEFAULTS } from '../src/manager/child-env.js';
import { diskUsage } from '../src/manager/isolation/disk-guard.js';
import { sessionsRoot } from '../src/manager/isolation/session-home.js';
import { findFreePort } from '../src/util/free-port.js';
import { stopChild, waitForLine } from '../test/helpers/child-process.js';
import { processTable, processTree, processesMatching, rssKb } from '../test/helpers/processes.js';
import { realOpencodeHome } from '../test/helpers/real-opencode.js';
import { startReadyService } from '../test/helpers/service-binary.js';
import { args, OPENCODE_BIN, type Disk, type ServiceMode } from './compare-args.js';
import { percentile } from './results.js';

/**
 * Samples the tree's summed VmRSS every 200 ms; stop() gives the peak in MB, and the peak of the root
 * process alone (the service's own Node process, or the bare serve).
 */
export function rssSampler(root: number): { stop: () => { tree: number; root: number } } {
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

/** SIGKILLs the scenario's opencode processes still alive; returns their pids. */
export function killLeftovers(marker: string): number[] {
  const left = opencodeLeft(marker);
  for (const pid of left)
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  return left;
}

/** SIGTERM the root and wait for its exit (SIGKILL after 30 s); then SIGKILL anything of ours left. */
export async function stopTree(child: ChildProcess, marker: string): Promise<number[]> {
  await stopChild(child);
  return killLeftovers(marker);
}

/** The opencode environment of the e2e tests: a private HOME/XDG tree and the stub model's config. */
export async function opencodeEnv(tmp: string, stub: StubLlm): Promise<Record<string, string>> {
  const home = path.join(tmp, 'home');
  return { PATH: process.env.PATH ?? '', ...(await realOpencodeHome(stub, home)), XDG_DATA_HOME: `${home}/.local/share`, ...args.opencodeEnv };
}

export async function startService(
  mode: ServiceMode,
  n: number,
  gapMs: number,
  tmp: string,
  env: Record<string, string>,
  pluginDir: string | undefined,
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
      ...(pluginDir === undefined ? {} : { OCPM_OPENCODE_PLUGIN_DIR: pluginDir }),
    },
    { nodeArgs: ['dist/main.js'], ...(args.logDir === undefined ? {} : { logFile: path.join(args.logDir, `${mode}-N${n}-gap${gapMs}.log`) }) },
  );
}

export async function startDirect(env: Record<string, string>, password: string): Promise<{ child: ChildProcess; base: string }> {
  const port = await findFreePort();
  const child = spawn(OPENCODE_BIN, ['serve', '--hostname', '127.0.0.1', '--port', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // The service's own offline defaults, so the floor runs the same opencode configuration.
    env: { ...OFFLINE_DEFAULTS, ...env, OPENCODE_SERVER_PASSWORD: password },
  });
  child.stderr.resume();
  try {
    // serve accepts TCP ~0.3 s before it can answer, and a request in that window hangs forever.
    await waitForLine(child, '"opencode server listening on"', (line) => (line.includes('opencode server listening on') ? true : undefined));
  } catch (error) {
    await stopChild(child, 5000); // a serve that never said it listens is still ours to stop
    throw error;
  }
  child.stdout.resume();
  return { child, base: `http://127.0.0.1:${port}` };
}

const MIB = 1024 * 1024;
const mb = (bytes: number): number => Math.round((bytes / MIB) * 10) / 10;

/**
 * The disk of the scenario's sessions, like `du -sk` (allocated blocks, lstat, links not followed):
 * each isolated session's home under <data>/opencode/sessions/<id> (src/manager/isolation/session-home.ts);
 * without per-session homes (a shared server, a bare serve) the data dir and the opencode HOME
 * together, divided by N. The workspaces are not counted.
 */
export async function measureDisk(tmp: string, n: number): Promise<Disk> {
  const dataDir = path.join(tmp, 'data');
  const total = (await diskUsage(dataDir, Infinity)) + (await diskUsage(path.join(tmp, 'home'), Infinity));
  const root = sessionsRoot(dataDir);
  const homes = existsSync(root) ? readdirSync(root).map((name) => path.join(root, name)) : [];
  if (homes.length === 0) {
    const each = mb(total / n);
    return { perSessionHome: false, p50Mb: each, maxMb: each, totalMb: mb(total) };
  }
  const sizes = await Promise.all(homes.map((home) => diskUsage(home, Infinity)));
  return { perSessionHome: true, p50Mb: mb(percentile(sizes, 0.5)), maxMb: mb(Math.max(...sizes)), totalMb: mb(total) };
}
