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
  return core.children.size + (core.runtime?.pool?.countByState().ready ?? 0);
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
  const { lifecycle, runtime, sessions } = core;
  const pool = runtime?.pool;
  const serverUp = pool?.canServe() ?? false;
  const description = serverUp ? MODE_DESCRIPTIONS.server : pool === undefined ? MODE_DESCRIPTIONS.perMessage : MODE_DESCRIPTIONS.fallback;
  return {
    available: runtime !== undefined && lifecycle.state !== 'unavailable',
    version: runtime?.binary.version ?? null,
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
      ...(pool === undefined ? {} : { instances: pool.statusOf() }),
    },
    state: lifecycle.state,
    draining: lifecycle.state === 'draining' || lifecycle.state === 'stopping',
    queuedRequests: live.queued,
    runningTurns: live.running,
    sessionsWaitingOnUser: core.userRequests.sessionsWaiting(),
    sessions: sessions.size,
    serverModeSupported: runtime?.binary.supportsServe ?? false,
    configuredMode: runtime?.mode ?? null,
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
  const pool = (): NonNullable<ManagerCore['runtime']>['pool'] => core.runtime?.pool;
  core.metrics.isolationEnforced.set(core.isolation.enforced ? 1 : 0);
  core.metrics.bindGauges({
    activeProcesses: () => runningProcesses(core),
    activeStreams: () => core.activity.streams,
    pendingRequests: () => live().queued,
    sessions: () => core.sessions.size,
    activeSessions: () => core.sessions.countActive(core.settings.turns.sessionIdleMs),
    serverInstances: () => pool()?.countByState() ?? {},
    residentMemory: (kind) => (kind === 'serve' ? (pool()?.residentBytes() ?? 0) : core.children.residentBytes(kind)),
    sessionsWaitingOnUser: () => core.userRequests.sessionsWaiting(),
    oldestUserWaitSeconds: () => core.userRequests.oldestWaitSeconds(),
    serverMemory: () => pool()?.slots.map((slot) => ({ server: slot.id, bytes: slot.instance?.rssBytes ?? 0 })) ?? [],
  });
}
