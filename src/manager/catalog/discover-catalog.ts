// Reads the catalog once at boot: from the boot cache when nothing it depends on changed, else from
// the first ready server instance (GET /config/providers, /agent, /config), else from a server
// started for it alone, else by running opencode's listing commands (`opencode models`, `opencode
// agent list`, `opencode debug config`). Never throws: a catalog that could not be read is
// undefined, and then no message is refused for it.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { SessionRecord } from '../../store/session-registry.js';
import { errorMessage } from '../../util/guards.js';
import { tolerate } from '../../util/housekeeping.js';
import { removeTree } from '../../util/remove-tree.js';
import type { BootCache } from '../boot-cache.js';
import type { ManagerCore } from '../manager-core.js';
import type { OpencodeBinary } from '../opencode-binary.js';
import type { TrackedResult } from '../process-tree/spawn-tracked.js';
import type { OpencodeClient } from '../server/opencode-client.js';
import type { Placement } from '../placement/placement.js';
import { ServerInstance, StartFailedError } from '../server/server-instance.js';
import { catalogKey } from './catalog-key.js';
import {
  buildCatalog,
  checkTurnOptions,
  configModelOf,
  NO_PROVIDER_HINT,
  parseAgentListOutput,
  parseAgents,
  parseConfigProviders,
  parseVerboseModelsOutput,
  type OpencodeCatalog,
  type TurnOptions,
} from './catalog.js';

/** Bounds each listing command and request (a listing takes ~5 s on an idle machine, far more on a loaded one). */
export const CATALOG_TIMEOUT_MS = 60000;

/** Over the HTTP API of a ready `opencode serve`, in an empty directory of ours (no workspace's config). */
export async function discoverFromServer(client: OpencodeClient, directory: string, timeoutMs = CATALOG_TIMEOUT_MS): Promise<OpencodeCatalog> {
  const [providers, agents, config] = await Promise.all([
    client.configProviders(timeoutMs, directory),
    client.agents(timeoutMs, directory),
    client.config(timeoutMs, directory),
  ]);
  const parsed = parseConfigProviders(providers);
  // The instance keeps a bootstrap per directory (~70 MB): give back the one these reads made.
  await client.disposeDirectory(directory, timeoutMs).catch(() => undefined);
  return buildCatalog({
    models: parsed.models,
    agents: parseAgents(agents),
    configModel: configModelOf(config),
    providerDefaults: parsed.defaults,
    fallbackHasKey: parsed.fallbackHasKey,
    terms: parsed.terms,
  });
}

/** Runs one opencode command to its end and answers its stdout; throws when it fails. */
export type RunListing = (args: readonly string[]) => Promise<string>;

/** With the listing commands; `opencode debug config` (for the default model) may fail without harm. */
export async function discoverFromCli(run: RunListing, env: Readonly<Record<string, string>>): Promise<OpencodeCatalog> {
  const [models, agents, config] = await Promise.all([run(['models', '--verbose']), run(['agent', 'list']), run(['debug', 'config']).catch(() => undefined)]);
  let configModel: string | undefined;
  try {
    configModel = config === undefined ? undefined : configModelOf(JSON.parse(config));
  } catch {
    configModel = undefined;
  }
  const { models: modelList, terms } = parseVerboseModelsOutput(models);
  const agentList = parseAgentListOutput(agents);
  if (modelList.length === 0 || agentList.length === 0) throw new Error('opencode listed no models or no agents');
  return buildCatalog({ models: modelList, agents: agentList, configModel, fallbackHasKey: (env.OPENCODE_API_KEY ?? '') !== '', terms });
}

function describe(result: TrackedResult): string {
  const how = result.termination === 'exit' ? `exit code ${String(result.exitCode)}` : result.termination;
  return `${how}${result.stderrTail.length === 0 ? '' : `: ${result.stderrTail.slice(-3).join(' | ')}`}`;
}

/** The boot cache's entry of the catalog. */
const CACHE_ENTRY = 'opencodeCatalog';

/**
 * Discovers the catalog for the mode boot chose, logs what it found, and warns when no provider is
 * configured. From the boot cache when opencode, its environment and its config files are what they
 * were; else from the first ready server, else from a server started for it alone, else (no `serve`)
 * from the listing commands.
 */
export async function discoverCatalog(core: ManagerCore, binary: OpencodeBinary, placement: Placement, cache: BootCache): Promise<OpencodeCatalog | undefined> {
  const { logger } = core;
  const startedAt = Date.now();
  const key = catalogKey(binary, core.childEnv);
  let catalog = cache.get<OpencodeCatalog>(CACHE_ENTRY, key);
  let via = 'cache';
  if (catalog === undefined) {
    try {
      ({ catalog, via } = await readCatalog(core, binary, placement));
    } catch (error) {
      logger.warn('Could not read which models and agents opencode has; messages are not checked against them', {
        reason: errorMessage(error),
        durationMs: Date.now() - startedAt,
      });
      return undefined;
    }
    cache.set(CACHE_ENTRY, key, catalog);
  }
  const fields = {
    providers: catalog.providers,
    defaultModel: catalog.defaultModel,
    models: catalog.models.length,
    agents: catalog.agents,
    durationMs: Date.now() - startedAt,
    via,
  };
  if (!catalog.configured) {
    logger.error(`opencode has no model provider configured: /readyz answers 503 and every message is refused with no_provider. ${NO_PROVIDER_HINT}`, {
      ...fields,
      code: 'no_provider',
    });
  } else {
    logger.info('OpenCode providers discovered', fields);
  }
  return catalog;
}

/**
 * The shared pool's ready server; else, where no server was started yet (per-message mode, an isolated
 * pool), one of the service's own; else (no `serve`, or a shared server that failed to start, so a
 * catalog server would fail too) the listing commands.
 */
async function readCatalog(core: ManagerCore, binary: OpencodeBinary, placement: Placement): Promise<{ catalog: OpencodeCatalog; via: string }> {
  const client = placement.catalogClient();
  if (client !== undefined) return { catalog: await discoverWithServer(core, client), via: 'server' };
  if (binary.supportsServe && placement.ownCatalogServer) {
    try {
      return { catalog: await discoverWithOwnServer(core, binary.path), via: 'catalog server' };
    } catch (error) {
      if (!(error instanceof StartFailedError)) throw error;
      core.logger.warn('No opencode server started to read the catalog; using the listing commands', { reason: errorMessage(error) });
    }
  }
  return { catalog: await discoverWithCommands(core, binary.path), via: 'commands' };
}

async function discoverWithServer(core: ManagerCore, client: OpencodeClient): Promise<OpencodeCatalog> {
  const directory = path.join(core.settings.storage.dataDir, 'catalog-server');
  await mkdir(directory, { recursive: true });
  try {
    return await discoverFromServer(client, directory);
  } finally {
    await tolerate(core, 'tmp_cleanup', () => removeTree(directory), { what: 'catalog data dir' });
  }
}

/** One `opencode serve` of the service's own, in a throwaway directory and data dir, stopped once read. */
async function discoverWithOwnServer(core: ManagerCore, binaryPath: string): Promise<OpencodeCatalog> {
  const { settings, metrics } = core;
  const root = path.join(settings.storage.dataDir, 'catalog');
  const directory = path.join(root, 'dir');
  await mkdir(directory, { recursive: true });
  const instance = new ServerInstance(-1, {
    binary: binaryPath,
    cwd: directory,
    env: { ...core.childEnv, XDG_DATA_HOME: path.join(root, 'data') },
    serverStartTimeoutMs: settings.pool.serverStartTimeoutMs,
    healthTimeoutMs: settings.pool.healthTimeoutMs,
    killGraceMs: settings.opencode.killGraceMs,
    logger: core.logger.child({ component: 'catalog' }),
    processes: core.registry.processes,
  });
  try {
    try {
      await instance.start();
    } catch (error) {
      metrics.spawns.inc({ kind: 'cli', outcome: 'failed' });
      throw error;
    }
    metrics.spawns.inc({ kind: 'cli', outcome: 'started' });
    return await discoverFromServer(instance.client!, directory);
  } finally {
    await instance.stop('catalog read');
    await tolerate(core, 'tmp_cleanup', () => removeTree(root), { what: 'catalog data dir' });
  }
}

/** The listing commands, each in a throwaway data dir (no race on a slot's first database). */
async function discoverWithCommands(core: ManagerCore, binaryPath: string): Promise<OpencodeCatalog> {
  const root = path.join(core.settings.storage.dataDir, 'catalog');
  let next = 0;
  try {
    const run: RunListing = async (args) => {
      const dir = path.join(root, String(next++));
      await mkdir(dir, { recursive: true });
      let stdout = '';
      const result = await core.children.run({
        file: binaryPath,
        args: [...args],
        workspaceDir: dir,
        env: { ...core.childEnv, XDG_DATA_HOME: dir },
        timeoutMs: CATALOG_TIMEOUT_MS,
        kind: 'cli',
        onStdoutLine: (line) => {
          if (stdout.length < 4 * 1024 * 1024) stdout += `${line}\n`;
        },
      });
      if (result.termination !== 'exit' || result.exitCode !== 0) throw new Error(`opencode ${args.join(' ')} failed (${describe(result)})`);
      return stdout;
    };
    return await discoverFromCli(run, core.childEnv);
  } finally {
    await tolerate(core, 'tmp_cleanup', () => removeTree(root), { what: 'catalog data dirs' });
  }
}

/** Files by which a workspace configures opencode itself (it may add providers or agents the catalog lacks). */
const WORKSPACE_CONFIG = ['opencode.json', 'opencode.jsonc', '.opencode'];

/**
 * The check the turn path calls before a turn starts: refuses an unknown model or agent, or any
 * message when no provider is configured. Skipped when the catalog is unknown, or when the
 * session's workspace has an opencode config of its own.
 */
export function checkTurn(core: ManagerCore, session: Pick<SessionRecord, 'workspace'>, options: TurnOptions): void {
  if (core.catalog === undefined) return;
  // Nothing to check for a message that names no model or agent when a provider is configured: no file look-ups per turn.
  if (core.catalog.configured && options.model === undefined && options.agent === undefined) return;
  if (WORKSPACE_CONFIG.some((name) => existsSync(path.join(session.workspace, name)))) return;
  checkTurnOptions(core.catalog, options);
}
