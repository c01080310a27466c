// Finds the opencode binary and reads what it can do: OCPM_OPENCODE_BIN, else the binary that
// `npm ci` installed from the opencode-ai dependency, else PATH. Each candidate must answer
// `--version`; `serve --help` exiting 0 means the binary has server mode. The answers are kept in the
// boot cache: the same file is not probed again at the next boot.
import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { ProcessStore } from '../store/process-store.js';
import { errorMessage } from '../util/guards.js';
import { digest, fileIdentity, stableEnv, type BootCache } from './boot-cache.js';
import { spawnTracked } from './process-tree/spawn-tracked.js';

const PROBE_TIMEOUT_MS = 20000;
const PROBE_CACHE_ENTRY = 'opencodeBinary';

export interface OpencodeBinary {
  readonly path: string;
  readonly source: 'OCPM_OPENCODE_BIN' | 'node_modules' | 'PATH';
  readonly version: string;
  readonly supportsServe: boolean;
}

interface Candidate {
  readonly path: string;
  readonly source: OpencodeBinary['source'];
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The platform package holds the real binary even when npm skipped install scripts, in which case
 * opencode-ai's own bin/opencode.exe is a stub that exits 1 (facts doc, trap 14).
 */
function nodeModulesCandidates(): Candidate[] {
  const require = createRequire(import.meta.url);
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const arch = process.arch;
  const packages = [
    `opencode-${platform}-${arch}`,
    `opencode-${platform}-${arch}-baseline`,
    `opencode-${platform}-${arch}-musl`,
    `opencode-${platform}-${arch}-baseline-musl`,
  ];
  const found: Candidate[] = [];
  for (const name of packages) {
    try {
      const dir = path.dirname(require.resolve(`${name}/package.json`));
      found.push({ path: path.join(dir, 'bin', 'opencode'), source: 'node_modules' });
    } catch {
      // Not installed for this platform variant.
    }
  }
  try {
    const dir = path.dirname(require.resolve('opencode-ai/package.json'));
    found.push({ path: path.join(dir, 'bin', 'opencode.exe'), source: 'node_modules' });
  } catch {
    // opencode-ai is not installed.
  }
  return found;
}

function pathCandidates(env: NodeJS.ProcessEnv): Candidate[] {
  return (env.PATH ?? '')
    .split(path.delimiter)
    .filter((dir) => dir !== '')
    .map((dir) => ({ path: path.join(dir, 'opencode'), source: 'PATH' as const }));
}

async function runProbe(file: string, args: string[], env: Record<string, string>, cwd: string, processes?: ProcessStore) {
  const lines: string[] = [];
  const child = await spawnTracked({
    file,
    args,
    cwd,
    env,
    timeoutMs: PROBE_TIMEOUT_MS,
    killGraceMs: 1000,
    onStdoutLine: (line) => lines.push(line),
    ...(processes === undefined ? {} : { registry: { store: processes, kind: 'probe' as const } }),
  });
  const result = await child.done;
  return { ok: result.termination === 'exit' && result.exitCode === 0, lines, result };
}

export async function readVersion(file: string, env: Record<string, string>, cwd: string, processes?: ProcessStore): Promise<string> {
  const probe = await runProbe(file, ['--version'], env, cwd, processes);
  const version = probe.lines.map((line) => line.trim()).find((line) => /^v?\d+\.\d+/.test(line));
  if (!probe.ok || version === undefined) {
    const why = probe.result.termination === 'timeout' ? 'timed out' : `exit code ${String(probe.result.exitCode)}`;
    throw new Error(`${file} --version failed (${why}): ${probe.result.stderrTail.slice(-3).join(' | ') || 'no output'}`);
  }
  return version.replace(/^v/, '');
}

export async function supportsServe(file: string, env: Record<string, string>, cwd: string, processes?: ProcessStore): Promise<boolean> {
  return (await runProbe(file, ['serve', '--help'], env, cwd, processes)).ok;
}

/** Tries each candidate in order; throws with every reason when none works. */
export async function findOpencodeBinary(options: {
  explicit: string | undefined;
  env: Record<string, string>;
  searchPath: NodeJS.ProcessEnv;
  cwd: string;
  processes?: ProcessStore;
  /** What the probes of the same file (same size, time and inode) answered at an earlier boot. */
  cache?: BootCache;
}): Promise<OpencodeBinary> {
  const candidates: Candidate[] =
    options.explicit !== undefined
      ? [{ path: options.explicit, source: 'OCPM_OPENCODE_BIN' }]
      : [...nodeModulesCandidates(), ...pathCandidates(options.searchPath)];
  const reasons: string[] = [];
  for (const candidate of candidates) {
    if (!isExecutable(candidate.path)) {
      if (candidate.source !== 'PATH') reasons.push(`${candidate.path}: not an executable file`);
      continue;
    }
    const key = digest(candidate.path, fileIdentity(candidate.path), stableEnv(options.env));
    const known = options.cache?.get<Pick<OpencodeBinary, 'version' | 'supportsServe'>>(PROBE_CACHE_ENTRY, key);
    if (known !== undefined) return { path: candidate.path, source: candidate.source, version: known.version, supportsServe: known.supportsServe };
    try {
      // Both at once: each is a whole opencode start (~1.5 s).
      const [version, serve] = await Promise.all([
        readVersion(candidate.path, options.env, options.cwd, options.processes),
        supportsServe(candidate.path, options.env, options.cwd, options.processes),
      ]);
      options.cache?.set(PROBE_CACHE_ENTRY, key, { version, supportsServe: serve });
      return { path: candidate.path, source: candidate.source, version, supportsServe: serve };
    } catch (error) {
      reasons.push(errorMessage(error));
    }
  }
  if (reasons.length === 0) reasons.push('no opencode executable in node_modules or on PATH');
  throw new Error(`No usable opencode binary: ${reasons.join('; ')}`);
}
