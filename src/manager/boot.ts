// Boot: clean up after a crashed previous run, find opencode and read what it can do, set up the
// sessions' sandbox, choose the mode and with it the placement, and start its servers. Never throws: a missing binary
// leaves the manager `unavailable` with the reason.
import { errorMessage } from '../util/guards.js';
import { BootCache } from './boot-cache.js';
import { discoverCatalog } from './catalog/discover-catalog.js';
import { reapOrphans } from './process-tree/orphan-reaper.js';
import { SANDBOX_BINARY } from './isolation/sandbox-binary.js';
import { SessionSandbox } from './isolation/session-sandbox.js';
import { SharedPlugin } from './isolation/shared-plugin.js';
import { hasProtection } from './isolation/isolation.js';
import { sessionsRoot } from './isolation/session-home.js';
import { SessionUids } from './isolation/session-uids.js';
import type { ManagerCore, Runtime } from './manager-core.js';
import { findOpencodeBinary, type OpencodeBinary } from './opencode-binary.js';
import { choosePlacement } from './placement/choose-placement.js';
import type { TurnMode } from './turn.js';
import { modelLabel } from './usage-accounting.js';

/** `sessionInUse`: whether a session runs a turn, has one queued or waits on a person (an isolated pool never stops its server then). */
export async function boot(core: ManagerCore, sessionInUse: (sessionId: string) => boolean): Promise<Runtime | undefined> {
  const { settings, logger, metrics } = core;
  await cleanUpAfterCrash(core);
  const cache = new BootCache(settings.storage.dataDir);
  let binary: OpencodeBinary;
  try {
    binary = await findOpencodeBinary({
      explicit: settings.opencode.opencodeBin,
      env: core.childEnv,
      searchPath: core.sourceEnv,
      cwd: process.cwd(),
      processes: core.registry.processes,
      cache,
    });
  } catch (error) {
    const reason = errorMessage(error);
    core.lifecycle.enter('unavailable', reason);
    metrics.setBuildInfo({ version: core.serviceVersion, opencodeVersion: 'unavailable', mode: settings.opencode.mode });
    logger.error('OpenCode process manager initialization failed', { reason });
    return undefined;
  }
  const sandbox = createSandbox(core, binary);
  const mode = chooseMode(core, binary);
  metrics.setBuildInfo({ version: core.serviceVersion, opencodeVersion: binary.version, mode });
  const placement = choosePlacement(core, binary, mode, sandbox, sessionInUse);
  await placement.start();
  if (placement.mode === 'server' && !placement.canServe()) logger.error('No OpenCode server instance started; serving per-message until one does');
  core.catalog = await discoverCatalog(core, binary, placement, cache);
  if (core.catalog?.defaultModel != null) core.metrics.usage.zeroModel(modelLabel(core.catalog, undefined));
  logger.info('OpenCode process manager initialized', {
    version: binary.version,
    binary: binary.path,
    source: binary.source,
    mode,
    poolSize: placement.instances()?.length ?? 0,
    serverModeSupported: binary.supportsServe,
  });
  return { binary, placement };
}

/** Kills what a crashed previous run left (verified by /proc) and closes its interrupted turns. */
async function cleanUpAfterCrash(core: ManagerCore): Promise<void> {
  const { logger } = core;
  const reaped = await reapOrphans(core.registry.processes, core.settings.opencode.killGraceMs, core);
  if (reaped.killed > 0) {
    core.metrics.orphansReaped.inc(reaped.killed);
    logger.warn('Reaped processes left by a previous run of the service', { processes: reaped.killed, records: reaped.rows });
  }
  const interrupted = core.registry.turns.markInterrupted();
  if (interrupted > 0) logger.warn('Turns interrupted by the previous stop were marked interrupted', { turns: interrupted });
  logger.info('Registry loaded', { sessions: core.sessions.size });
}

function createSandbox(core: ManagerCore, binary: OpencodeBinary): SessionSandbox | undefined {
  const { isolation, logger, settings } = core;
  if (!isolation.enforced) {
    logger.warn("SESSIONS ARE NOT ISOLATED: every agent can read and write other sessions' workspaces and the service's data", { reason: isolation.reason });
    return undefined;
  }
  logger.info('Sessions are isolated: each runs in a sandbox of its own', {
    mechanism: isolation.mechanism,
    landlockAbi: isolation.abi,
    protections: isolation.protections.join(','),
  });
  for (const warning of isolation.warnings) logger.warn(`Isolation layer not active: ${warning}`);
  const sharedPlugin = new SharedPlugin(settings.storage.dataDir, binary.version, settings.isolation.opencodePluginDir);
  // In the background: boot does not wait for a registry (an air-gapped one may never answer).
  void sharedPlugin.prepare({
    // npm's own settings (registry, CA file) with what every networked child gets.
    env: { ...core.childEnv, ...npmSettings(core.sourceEnv) },
    run: (options) => core.children.run(options),
    logger,
  });
  return new SessionSandbox({
    sharedPlugin,
    launcher: SANDBOX_BINARY,
    opencodeBinary: binary.path,
    sandboxReadPaths: settings.isolation.sandboxReadPaths,
    toolEnvAllow: settings.isolation.toolEnvAllow,
    sourceEnv: core.sourceEnv,
    isolation,
    killGraceMs: settings.opencode.killGraceMs,
    tcpConnect: settings.isolation.sandboxTcpConnect,
    memoryMb: settings.isolation.sessionMemoryMb,
    diskMb: settings.isolation.sessionDiskMb,
    ...(core.servicePort === undefined ? {} : { servicePort: core.servicePort }),
    // With the gateway, opencode gets the operator's config rewritten inline: its file stays closed.
    operatorConfigHidden: core.gateway !== undefined,
    ...(hasProtection(isolation, 'uid')
      ? {
          uids: new SessionUids(settings.isolation.sessionUidRange, sessionsRoot(settings.storage.dataDir)),
          maxProcesses: settings.isolation.sessionMaxProcesses,
        }
      : {}),
  });
}

function chooseMode(core: ManagerCore, binary: OpencodeBinary): TurnMode {
  const { logger } = core;
  const wanted = core.settings.opencode.mode;
  if (wanted === 'per-message') {
    logger.info('Per-message mode (OCPM_MODE=per-message): each message spawns its own OpenCode process');
    return 'per-message';
  }
  if (binary.supportsServe) {
    logger.info('OpenCode supports server mode (serve): messages go to a pool of persistent servers', { poolSize: core.settings.pool.poolSize });
    return 'server';
  }
  if (wanted === 'server') logger.error('OCPM_MODE=server but this opencode has no serve command; using per-message mode');
  else logger.info('OpenCode does not support server mode, will use per-session approach');
  return 'per-message';
}

/** The `npm_config_*` variables of the service's environment. */
function npmSettings(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => /^npm_config_/i.test(entry[0]) && entry[1] !== undefined));
}
