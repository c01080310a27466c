// Status, probes and metrics: the routes operators and Kubernetes call. The status is open: without
// a valid API token it answers its summary, with one the full document (status-view.ts).
import { Router, type RequestHandler } from 'express';
import type { OpencodeProcessManager } from '../../manager/opencode-process-manager.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { ClusterStatus } from '../../cluster/cluster.js';
import { isAuthenticated } from '../auth.js';
import { fullStatus, summaryStatus } from '../status-view.js';

export function healthRoutes(deps: { manager: OpencodeProcessManager; metrics: Metrics; metricsAuth: RequestHandler; cluster: () => ClusterStatus }): Router {
  const router = Router();
  const { manager, metrics } = deps;

  // Open, but what it shows depends on the token (status-view.ts): no cache may hand one caller's
  // answer to another.
  router.get('/api/opencode/status', (_req, res) => {
    res.vary('Authorization');
    res.setHeader('Cache-Control', 'no-store');
    const stats = manager.getStats();
    res.json(isAuthenticated(res) ? fullStatus(stats, deps.cluster()) : summaryStatus(stats, deps.cluster()));
  });

  router.get('/livez', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', (_req, res) => {
    const rejection = manager.readiness();
    if (rejection === undefined) {
      res.json({ status: 'ready' });
      return;
    }
    res.status(503).json({ status: 'not_ready', error: rejection });
  });

  router.get('/metrics', deps.metricsAuth, async (_req, res) => {
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });

  return router;
}
