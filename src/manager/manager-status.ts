// What the manager reports: the status document (GET /api/opencode/status) and the live gauges the
// metrics read at scrape time.
import { budgetExceeded, sumUsage } from '../usage/usage.js';
import type { ManagerCore } from './manager-core.js';
import { readinessOf } from './readiness.js';
import { MODE_DESCRIPTIONS, type ManagerStats, type UsageTotals } from './manager-types.js';

/** The live numbers status and gauges read; the façade supplies them. */
export interface LiveCounts {
  readonly queued: number;
  readonly running: number;
}

function runningProcesses(core: ManagerCore): number {
  return core.children.size + (core.placement.countByState().ready ?? 0);
}

function usageTotals(core: ManagerCore): UsageTotals {
  const { budgets } = core.settings;
  const sessions = core.sessions.list();
  return {
    ...sumUsage(sessions.map((session) => session.usage)),
    sessionsOverBudget: sessions.filter((session) => budgetExceeded(session.usage, budgets) !== undefined).length,
    budgets: { tokens: budgets.sessionTokenBudget ?? null, costUsd: budgets.sessionCostBudgetUsd ?? null },
  };
}

export function buildStats(core: ManagerCore, live: LiveCounts, now: number): ManagerStats {
  const { lifecycle, binary, placement, sessions } = core;
  const serverUp = placement.canServe();
  const description = serverUp ? MODE_DESCRIPTIONS.server : placement.mode === 'per-message' ? MODE_DESCRIPTIONS.perMessage : MODE_DESCRIPTIONS.fallback;
  const instances = placement.instances();
  const starts = placement.startQueue();
  const memory = placement.memoryStatus();
  return {
    available: binary !== undefined && lifecycle.state !== 'unavailable',
    version: binary?.version ?? null,
    runningProcesses: runningProcesses(core),
    activeStreams: core.activity.streams,
    processManager: {
      isRunning: serverUp,
      isReady: readinessOf(core) === undefined,
      pendingRequests: lifecycle.pending,
      activeSessions: sessions.countActive(core.settings.turns.sessionIdleMs, now),
      lastActivity: core.activity.lastActivity,
      idleTime: Math.max(0, now - core.activity.lastActivity),
      mode: serverUp ? 'server' : 'per-session',
      description,
      ...(instances === undefined ? {} : { instances }),
      ...(starts === undefined ? {} : { starts }),
      ...(memory === undefined ? {} : { memory }),
    },
    state: lifecycle.state,
    draining: lifecycle.state === 'draining' || lifecycle.state === 'stopping',
    queuedRequests: live.queued,
    runningTurns: live.running,
    sessionsWaitingOnUser: core.userRequests.sessionsWaiting(),
    sessions: sessions.size,
    serverModeSupported: binary?.supportsServe ?? false,
    configuredMode: binary === undefined ? null : placement.mode,
    unavailableReason: lifecycle.state === 'unavailable' ? 'opencode binary not found or not working (see the service log)' : null,
    notReady: readinessOf(core) ?? null,
    isolation: {
      mechanism: core.isolation.mechanism,
      enforced: core.isolation.enforced,
      protections: core.isolation.protections,
      warnings: core.isolation.warnings,
    },
    opencode: {
      providers: core.catalog?.providers ?? [],
      defaultModel: core.catalog?.defaultModel ?? null,
      configured: core.catalog?.configured ?? null,
    },
    usage: usageTotals(core),
    gateway: core.gateway?.status() ?? null,
  };
}

/** Points the metrics' live gauges at the manager. */
export function bindGauges(core: ManagerCore, live: () => LiveCounts): void {
  core.metrics.isolationEnforced.set(core.isolation.enforced ? 1 : 0);
  core.metrics.bindGauges({
    activeProcesses: () => runningProcesses(core),
    activeStreams: () => core.activity.streams,
    pendingRequests: () => live().queued,
    sessions: () => core.sessions.size,
    activeSessions: () => core.sessions.countActive(core.settings.turns.sessionIdleMs),
    serverInstances: () => core.placement.countByState(),
    residentMemory: (kind) => (kind === 'serve' ? core.placement.residentBytes() : core.children.residentBytes(kind)),
    sessionsWaitingOnUser: () => core.userRequests.sessionsWaiting(),
    oldestUserWaitSeconds: () => core.userRequests.oldestWaitSeconds(),
    serverMemory: () => core.placement.serverMemory(),
    serverStartsWaiting: () => core.placement.startQueue()?.waiting ?? 0,
    memoryLimit: () => core.placement.memoryStatus(),
  });
}
