// The manager's parts, built from its core: each gets what it uses, and what boot replaces after
// they exist (the placement, the binary, the catalog, the children's environment) as a getter.
import type { ManagerCore } from './manager-core.js';
import { configurationProblem, readinessOf } from './readiness.js';
import { SessionCommands } from './session-commands.js';
import type { SessionTransferDeps } from './session-transfer.js';
import { Sessions } from './sessions.js';
import { runStandalone, type Standalone, type StandaloneDeps } from './standalone.js';
import { TurnAdmission } from './turn-admission.js';
import { TurnRunner } from './turn-runner.js';
import { WarmUps } from './warm-up.js';

export interface ManagerParts {
  readonly runner: TurnRunner;
  readonly admission: TurnAdmission;
  readonly sessions: Sessions;
  readonly commands: SessionCommands;
  readonly standalone: Standalone;
}

export function buildParts(core: ManagerCore): ManagerParts {
  const { settings, logger, metrics, lifecycle, userRequests, gateway, diskGuard, children } = core;
  const { turns } = core.registry;
  const records = core.sessions;
  const placement = (): ManagerCore['placement'] => core.placement;
  const binary = (): ManagerCore['binary'] => core.binary;
  const childEnv = (): ManagerCore['childEnv'] => core.childEnv;
  const catalog = (): ManagerCore['catalog'] => core.catalog;
  const standaloneDeps: StandaloneDeps = { binary, childEnv, children, readiness: () => readinessOf(core), turnTimeoutMs: settings.turns.turnTimeoutMs };
  const standalone: Standalone = (workspaceDir, args, options) => runStandalone(standaloneDeps, workspaceDir, args, options);
  const { serverStartTimeoutMs } = settings.pool;
  const ready = (): boolean => configurationProblem(core) === undefined;
  const warmUps = new WarmUps({
    lifecycle,
    placement,
    sessions: records,
    logger,
    serverStartTimeoutMs,
    ready,
    gateway: core.gateway,
    sessionInUse: (id) => admission.isBusy(id) || admission.isQueued(id),
  });
  const runner = new TurnRunner({
    placement,
    sessions: records,
    turns,
    activity: core.activity,
    userRequests,
    warmUps,
    standalone,
    diskGuard,
    metrics,
    logger,
    catalog,
    gateway,
    turnSettings: settings.turns,
    killGraceMs: settings.opencode.killGraceMs,
    serverStartTimeoutMs,
    dataDir: settings.storage.dataDir,
  });
  const admission = new TurnAdmission({
    queue: settings.queue,
    metrics,
    lifecycle,
    sessions: records,
    budgets: settings.budgets,
    diskGuard,
    configurationProblem: () => configurationProblem(core),
    // A message aborted or timed out while it waited counts as a turn that did not run.
    countUnrun: (outcome, at) => runner.countTurn(core.placement.mode, outcome, at),
  });
  const sessions = new Sessions({
    sessions: records,
    allowSharedWorkspaces: settings.storage.allowSharedWorkspaces,
    userRequests,
    gateway,
    placement,
    turns,
    logger,
    metrics,
    isBusy: (id) => admission.isBusy(id),
    isQueued: (id) => admission.isQueued(id),
  });
  const transfer: SessionTransferDeps = { binary, placement, childEnv, children, sessions: records, turns, dataDir: settings.storage.dataDir, logger, metrics };
  const reset = { userRequests, sessions: records, placement, logger };
  const commands = new SessionCommands({ records, sessions, admission, warmUps, turns, placement, logger, reset, transfer });
  return { runner, admission, sessions, commands, standalone };
}
