// opencode installs its plugin package (@opencode-ai/plugin of its own version: ~64 MB with its
// dependencies, plus ~31 MB of npm cache) into every config home it starts with that lacks it, from
// the package registry. Isolated, every session has a config home of its own: a registry fetch and
// ~95 MB per session, at its first turn. The service installs the package once under the data dir
// and links each session's config home to it (read-only in the sandbox); opencode finds its version
// there and installs nothing.
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { constants, copyFile, lstat, mkdir, rename, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../../util/guards.js';
import type { RunChildOptions } from '../per-message/run-children.js';
import type { TrackedResult } from '../process-tree/spawn-tracked.js';

const PACKAGE = '@opencode-ai/plugin';
/** What opencode keeps beside node_modules in a config home: copied, since opencode rewrites them. */
const MANIFESTS = ['package.json', 'package-lock.json'];
/** A first install downloads ~27 packages (~10 s here). */
const INSTALL_TIMEOUT_MS = 180_000;
/** No registry (air-gapped, a CA npm does not trust) must not hold boot up: npm's own retries would take minutes. */
const NO_RETRIES = ['--fetch-retries=0', '--fetch-timeout=20000'];

export function sharedPluginDir(dataDir: string): string {
  return path.join(dataDir, 'opencode', 'shared-plugin');
}

function installedVersion(dir: string): string | undefined {
  try {
    const manifest: unknown = JSON.parse(readFileSync(path.join(dir, 'node_modules', PACKAGE, 'package.json'), 'utf8'));
    return typeof manifest === 'object' && manifest !== null && 'version' in manifest && typeof manifest.version === 'string' ? manifest.version : undefined;
  } catch {
    return undefined;
  }
}

/** npm as Node ships it (beside the running node), else the one on PATH. */
function npmCommand(): { file: string; args: string[] } {
  const cli = path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
  return existsSync(cli) ? { file: process.execPath, args: [cli] } : { file: 'npm', args: [] };
}

export interface SharedPluginDeps {
  /** The service's environment for npm (PATH, CA certificates, proxies, `npm_config_*`). */
  readonly env: Readonly<Record<string, string>>;
  readonly run: (options: RunChildOptions) => Promise<TrackedResult>;
  readonly logger: { info(message: string, meta: Record<string, unknown>): unknown; warn(message: string, meta: Record<string, unknown>): unknown };
}

/**
 * The install every session shares, under the data dir. Boot does not wait for it: until it is
 * ready (a first boot, ~10 s; a registry that cannot be reached, never) sessions are not linked and
 * their opencode installs the package itself, as it would without this.
 */
export class SharedPlugin {
  readonly dir: string;
  private installed: boolean;

  /**
   * `version`: opencode's, the plugin version it wants. `prepared`: an install the operator made
   * (OCPM_OPENCODE_PLUGIN_DIR, the image's), used as it is and never written to.
   */
  constructor(
    dataDir: string,
    private readonly version: string,
    private readonly prepared?: string,
  ) {
    this.dir = prepared ?? sharedPluginDir(dataDir);
    this.installed = installedVersion(this.dir) === version;
  }

  get ready(): boolean {
    return this.installed;
  }

  /** Installs opencode's version unless it is there; never throws (a failure is logged). */
  async prepare(deps: SharedPluginDeps): Promise<void> {
    // Only a release is in the registry (a prerelease or local build asks for a version npm lacks).
    if (this.installed) return;
    if (this.prepared !== undefined) {
      deps.logger.warn("OCPM_OPENCODE_PLUGIN_DIR does not hold opencode's plugin package at opencode's version; each session's opencode installs it itself", {
        version: this.version,
        found: installedVersion(this.prepared) ?? null,
      });
      return;
    }
    if (!/^\d+\.\d+\.\d+$/.test(this.version)) return;
    const staging = `${this.dir}.staging-${randomUUID()}`;
    const started = Date.now();
    try {
      await mkdir(staging, { recursive: true, mode: 0o755 });
      const npm = npmCommand();
      const cache = path.join(staging, '.npm-cache');
      const result = await deps.run({
        file: npm.file,
        args: [
          ...npm.args,
          'install',
          '--prefix',
          staging,
          '--save-exact',
          '--no-audit',
          '--no-fund',
          '--ignore-scripts',
          ...NO_RETRIES,
          '--cache',
          cache,
          `${PACKAGE}@${this.version}`,
        ],
        workspaceDir: staging,
        env: deps.env,
        timeoutMs: INSTALL_TIMEOUT_MS,
        kind: 'cli',
      });
      if (result.termination !== 'exit' || result.exitCode !== 0) {
        throw new Error(`npm install failed (${result.termination}, exit ${String(result.exitCode)}): ${result.stderrTail.slice(-3).join(' | ')}`);
      }
      if (installedVersion(staging) !== this.version) throw new Error(`npm installed no ${PACKAGE}@${this.version}`);
      await rm(cache, { recursive: true, force: true });
      await rm(this.dir, { recursive: true, force: true });
      await rename(staging, this.dir);
      this.installed = true;
      deps.logger.info("opencode's plugin package installed once for every session", { version: this.version, durationMs: Date.now() - started });
    } catch (error) {
      deps.logger.warn("opencode's plugin package could not be installed for the sessions to share; each session's opencode installs it itself", {
        version: this.version,
        error: errorMessage(error),
        durationMs: Date.now() - started,
      });
    } finally {
      await rm(staging, { recursive: true, force: true }).catch(() => undefined);
    }
  }
}

/**
 * Links a session's config home to the shared plugin. The service writes here on the session's
 * behalf, in a tree the session's agent can write: it writes only into an `opencode` directory it
 * creates itself, under a config home that is a real directory (never through a link the agent
 * planted to another session's home or the service's files). A home opencode already used keeps
 * what it has.
 */
export async function linkSharedPlugin(configHome: string, pluginDir: string): Promise<void> {
  const home = await lstat(configHome);
  if (!home.isDirectory()) return;
  const dir = path.join(configHome, 'opencode');
  try {
    await mkdir(dir, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw error;
  }
  await symlink(path.join(pluginDir, 'node_modules'), path.join(dir, 'node_modules'));
  for (const name of MANIFESTS) await copyFile(path.join(pluginDir, name), path.join(dir, name), constants.COPYFILE_EXCL);
}
