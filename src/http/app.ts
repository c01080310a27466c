// createApp(deps) -> the Express app: no listen, no side effects, so tests run it on port 0.
// Order matters: helmet and metrics see every response; CORS answers preflights (sent without
// credentials) before authentication; authentication runs before any body is read.
import type { Config } from '../config/config.js';
import express, { Router, type Express, type RequestHandler } from 'express';
import type { Cluster } from '../cluster/cluster.js';
import { REPLICA_HEADER } from '../cluster/forward.js';
import helmet from 'helmet';
import type { ApiAuth } from '../auth/api-tokens.js';
import type { TokenVerifier } from '../auth/token-verifier.js';
import type { Logger } from '../logging/logger.js';
import type { OpencodeProcessManager } from '../manager/index.js';
import type { Metrics } from '../metrics/metrics.js';
import { requireApiToken, requireMetricsToken } from './auth.js';
import { corsPolicy } from './cors.js';
import { createErrorHandler, notFoundHandler } from './http-errors.js';
import { messageRateLimit, StreamLimiter } from './rate-limits.js';
import { requestMetrics } from './request-metrics.js';
import { requireJsonBody } from './require-json.js';
import { mountRoutes, recordRouteTable, type Route } from './route-table.js';
import { consoleFiles, consoleRoutes } from './routes/console.js';
import { withDocumentRoute } from './routes/document.js';
import { eventRoutes } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { instanceRoutes } from './routes/instances.js';
import { internalRouter, internalRoutes } from './routes/internal.js';
import { messageRoutes } from './routes/messages.js';
import { sessionRoutes } from './routes/sessions.js';
import { userRequestRoutes } from './routes/user-requests.js';
import { routeToOwner } from './session-owner.js';
import { fullStatus } from './status-view.js';

export interface AppDeps {
  readonly manager: OpencodeProcessManager;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** The real path of OCPM_WORKSPACE_ROOT. */
  readonly workspaceRoot: string;
  /** The http section of the configuration. */
  readonly http: Config['http'];
  /** API tokens; `verifier` undefined means OCPM_AUTH=disabled. */
  readonly auth: ApiAuth;
  /** OCPM_METRICS_TOKEN; undefined leaves /metrics open. */
  readonly metricsVerifier: TokenVerifier | undefined;
  readonly autoCreateWorkspaces: boolean;
  /** This replica's name (OCPM_REPLICA_NAME), sent as X-Ocpm-Replica on every /api answer. */
  readonly replica: string;
  /** Set when the replica has peers: requests for sessions it does not hold go to their owner. */
  readonly cluster?: { readonly cluster: Cluster; readonly peerAuth: RequestHandler; readonly peerTimeoutMs: number; readonly handoffTimeoutMs: number };
}

/**
 * The /api routes the table declares `api-optional` stay open (the status: Kubernetes and dashboards
 * probe it without a token, and without a valid one it answers only its summary, status-view.ts).
 * Matched by exact path: such a route has no path parameters.
 */
function openApiRoutes(routes: readonly Route[]): (method: string, path: string) => boolean {
  const open = new Set(
    routes
      .filter((route) => route.security === 'api-optional')
      .flatMap((route) => (route.method === 'get' ? ['GET', 'HEAD'] : [route.method.toUpperCase()]).map((method) => `${method} ${route.path}`)),
  );
  return (method, path) => open.has(`${method} /api${path}`);
}

export function createApp(deps: AppDeps): Express {
  const { http } = deps;
  const routes = withDocumentRoute(publicRoutes(deps));
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Helmet's strict CSP, with styles from this origin only too (the console's are files), and
  // without upgrade-insecure-requests: the console must load over plain HTTP inside a cluster.
  app.use(helmet({ contentSecurityPolicy: { directives: { styleSrc: ["'self'"], upgradeInsecureRequests: null } } }));
  app.use(requestMetrics(deps.metrics));
  app.use(corsPolicy(http.corsOrigins));
  app.use('/api', (_req, res, next) => {
    res.setHeader(REPLICA_HEADER, deps.replica);
    next();
  });
  app.use('/api', requireApiToken(deps.auth, openApiRoutes(routes)));
  // Any body must be JSON in UTF-8 (415 otherwise), checked before the parser reads it.
  app.use(requireJsonBody);
  const { cluster } = deps;
  const internal: Route[] =
    cluster === undefined
      ? []
      : internalRoutes({
          manager: deps.manager,
          cluster: cluster.cluster,
          metrics: deps.metrics,
          logger: deps.logger.child({ component: 'cluster' }),
          handoffTimeoutMs: cluster.handoffTimeoutMs,
          workspaceRoot: deps.workspaceRoot,
        });
  // Before the API's body parser: a handed-over conversation has its own, larger limit.
  if (cluster !== undefined) app.use(internalRouter(cluster.peerAuth, internal));
  app.use(express.json({ limit: http.maxBodyBytes, strict: true }));
  if (cluster !== undefined) {
    app.use(
      '/api/sessions/:id',
      routeToOwner({
        manager: deps.manager,
        cluster: cluster.cluster,
        metrics: deps.metrics,
        logger: deps.logger.child({ component: 'cluster' }),
        connectTimeoutMs: cluster.peerTimeoutMs,
      }),
    );
  }
  app.use(mountRoutes(Router(), routes));
  app.use('/console', consoleFiles());
  recordRouteTable(app, [...routes, ...internal]);
  app.use(notFoundHandler);
  app.use(createErrorHandler(deps.logger.child({ component: 'http' })));
  return app;
}

/** Every route but the replica-to-replica ones, in the order the document lists them. */
function publicRoutes(deps: AppDeps): Route[] {
  const { http, cluster } = deps;
  const clusterStatus = () => cluster?.cluster.status() ?? { replica: deps.replica, peers: [] };
  // One budget of open SSE streams per token, message streams and console streams alike.
  const streamLimiter = new StreamLimiter(http.maxStreamsPerToken);
  return [
    ...sessionRoutes({
      manager: deps.manager,
      workspaceRoot: deps.workspaceRoot,
      autoCreateWorkspaces: deps.autoCreateWorkspaces,
      ...(cluster === undefined ? {} : { peerSessions: () => cluster.cluster.peerSessions() }),
    }),
    ...messageRoutes({
      manager: deps.manager,
      maxMessageChars: http.maxMessageChars,
      abortOnDisconnect: http.abortOnDisconnect,
      submissionLimit: messageRateLimit(http.rateLimitPerMin),
      streamLimiter,
    }),
    ...userRequestRoutes(deps.manager),
    ...instanceRoutes(deps.manager),
    ...healthRoutes({ manager: deps.manager, metrics: deps.metrics, metricsAuth: requireMetricsToken(deps.metricsVerifier), cluster: clusterStatus }),
    ...eventRoutes({
      manager: deps.manager,
      status: () => fullStatus(deps.manager.getStats(), clusterStatus()),
      intervalMs: http.eventsIntervalMs,
      streamLimiter,
      logger: deps.logger.child({ component: 'http' }),
    }),
    ...consoleRoutes(),
  ];
}
