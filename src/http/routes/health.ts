// Status, probes and metrics: the routes operators and Kubernetes call.
import { Router, type RequestHandler } from 'express';
import type { OpencodeProcessManager } from '../../manager/opencode-process-manager.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { ClusterStatus } from '../../cluster/cluster.js';

export function healthRoutes(deps: { manager: OpencodeProcessManager; metrics: Metrics; metricsAuth: RequestHandler; cluster: () => ClusterStatus }): Router {
  const router = Router();
  const { manager, metrics } = deps;

  router.get('/api/opencode/status', (_req, res) => {
    res.json({ ...manager.getStats(), ...deps.cluster() });
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
