// What GET /api/opencode/status answers. The route is open (Kubernetes, dashboards and the web app
// probe it without a token), so a caller without a valid API token gets the summary: a fixed list of
// fields saying whether the service is up, how loaded it is and how sessions are kept apart, nothing
// about its processes (pids, ports, memory), sessions, usage, peers or opencode's configuration. A
// caller with a valid token (everyone with OCPM_AUTH=disabled) gets the full document. `detail` says
// which one a client got.
import type { ClusterStatus } from '../cluster/cluster.js';
import type { ManagerStats } from '../manager/index.js';

export type FullStatus = { readonly detail: 'full' } & ManagerStats & ClusterStatus;

export interface SummaryStatus {
  readonly detail: 'summary';
  readonly available: boolean;
  readonly version: string | null;
  readonly runningProcesses: number;
  readonly activeStreams: number;
  readonly processManager: Omit<ManagerStats['processManager'], 'instances'>;
  readonly state: ManagerStats['state'];
  readonly draining: boolean;
  readonly isolation: Pick<ManagerStats['isolation'], 'mechanism' | 'enforced'>;
  /** This replica's name: every /api answer carries it in X-Ocpm-Replica anyway. */
  readonly replica: string;
}

export function fullStatus(stats: ManagerStats, cluster: ClusterStatus): FullStatus {
  return { detail: 'full', ...stats, ...cluster };
}

/** Field by field, never by removing fields: a field added to the status later stays out of the summary. */
export function summaryStatus(stats: ManagerStats, cluster: ClusterStatus): SummaryStatus {
  const pm = stats.processManager;
  return {
    detail: 'summary',
    available: stats.available,
    version: stats.version,
    runningProcesses: stats.runningProcesses,
    activeStreams: stats.activeStreams,
    processManager: {
      isRunning: pm.isRunning,
      isReady: pm.isReady,
      pendingRequests: pm.pendingRequests,
      activeSessions: pm.activeSessions,
      lastActivity: pm.lastActivity,
      idleTime: pm.idleTime,
      mode: pm.mode,
      description: pm.description,
    },
    state: stats.state,
    draining: stats.draining,
    isolation: { mechanism: stats.isolation.mechanism, enforced: stats.isolation.enforced },
    replica: cluster.replica,
  };
}
