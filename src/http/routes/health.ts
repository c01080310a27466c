// Status, probes and metrics: the routes operators and Kubernetes call. The status is open: without
// a valid API token it answers its summary, with one the full document (status-view.ts).
import type { RequestHandler } from 'express';
import type { ClusterStatus } from '../../cluster/cluster.js';
import type { OpencodeProcessManager } from '../../manager/index.js';
import type { Metrics } from '../../metrics/metrics.js';
import { probeResponseSchema, statusResponseSchema } from '../api-schemas.js';
import { isAuthenticated } from '../auth.js';
import { json } from '../replies.js';
import { defineRoute, type Route } from '../route-table.js';
import { fullStatus, summaryStatus } from '../status-view.js';
import { ignoredQuerySchema } from '../validation.js';

export interface HealthRouteDeps {
  readonly manager: OpencodeProcessManager;
  readonly metrics: Metrics;
  /** OCPM_METRICS_TOKEN's check (lets everyone through when it is unset). */
  readonly metricsAuth: RequestHandler;
  readonly cluster: () => ClusterStatus;
}

export function healthRoutes(deps: HealthRouteDeps): Route[] {
  const { manager, metrics } = deps;
  return [
    defineRoute({
      method: 'get',
      path: '/api/opencode/status',
      summary:
        'Manager status. Open: without a valid API token (a wrong one included) the summary (detail "summary": up, ready, load, isolation; no pids, ports, sessions, usage, peers or opencode setup); with one the full document (detail "full")',
      security: 'api-optional',
      query: ignoredQuerySchema,
      replies: { 200: json('The summary, or with a valid token the full status', statusResponseSchema) },
      handler: ({ res }) => {
        // What it shows depends on the token: no cache may hand one caller's answer to another.
        res.vary('Authorization');
        res.setHeader('Cache-Control', 'no-store');
        const stats = manager.getStats();
        res.json(isAuthenticated(res) ? fullStatus(stats, deps.cluster()) : summaryStatus(stats, deps.cluster()));
      },
    }),
    defineRoute({
      method: 'get',
      path: '/livez',
      summary: 'Liveness probe',
      security: 'none',
      query: ignoredQuerySchema,
      replies: { 200: json('Alive', probeResponseSchema) },
      handler: ({ res }) => {
        res.json({ status: 'ok' });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/readyz',
      summary: 'Readiness probe',
      security: 'none',
      query: ignoredQuerySchema,
      replies: { 200: json('Ready', probeResponseSchema), 503: json('Not ready or draining', probeResponseSchema) },
      handler: ({ res }) => {
        const rejection = manager.readiness();
        if (rejection === undefined) {
          res.json({ status: 'ready' });
          return;
        }
        res.status(503).json({ status: 'not_ready', error: rejection });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/metrics',
      summary: 'Prometheus metrics (behind OCPM_METRICS_TOKEN when set)',
      security: 'metrics',
      use: [deps.metricsAuth],
      query: ignoredQuerySchema,
      replies: { 200: { description: 'Prometheus text exposition', contentType: 'text/plain' } },
      handler: async ({ res }) => {
        res.setHeader('Content-Type', metrics.registry.contentType);
        res.send(await metrics.registry.metrics());
      },
    }),
  ];
}
