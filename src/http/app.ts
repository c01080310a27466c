// createApp(deps) -> the Express app: no listen, no side effects, so tests run it on port 0.
// Order matters: helmet and metrics see every response; CORS answers preflights (sent without
// credentials) before authentication; authentication runs before any body is read.
import type { Config } from '../config/config.js';
import express, { type Express } from 'express';
import helmet from 'helmet';
import type { ApiAuth } from '../auth/api-tokens.js';
import type { TokenVerifier } from '../auth/token-verifier.js';
import type { Logger } from '../logging/logger.js';
import type { OpencodeProcessManager } from '../manager/opencode-process-manager.js';
import type { Metrics } from '../metrics/metrics.js';
import { requireApiToken, requireMetricsToken } from './auth.js';
import { corsPolicy } from './cors.js';
import { createErrorHandler, notFoundHandler } from './http-errors.js';
import { buildOpenApiDocument } from './openapi.js';
import { messageRateLimit, StreamLimiter } from './rate-limits.js';
import { requestMetrics } from './request-metrics.js';
import { requireJsonBody } from './require-json.js';
import { healthRoutes } from './routes/health.js';
import { messageRoutes } from './routes/messages.js';
import { sessionRoutes } from './routes/sessions.js';
import { userRequestRoutes } from './routes/user-requests.js';

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
}

/** The one /api route that stays open: Kubernetes and dashboards probe it without a token. */
const isOpenApiRoute = (method: string, path: string): boolean => (method === 'GET' || method === 'HEAD') && path === '/api/opencode/status';

export function createApp(deps: AppDeps): Express {
  const { http } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(helmet());
  app.use(requestMetrics(deps.metrics));
  app.use(corsPolicy(http.corsOrigins));
  app.use(
    '/api',
    requireApiToken(deps.auth, (method, path) => isOpenApiRoute(method, `/api${path}`)),
  );
  // Any body must be JSON in UTF-8 (415 otherwise), checked before the parser reads it.
  app.use(requireJsonBody);
  app.use(express.json({ limit: http.maxBodyBytes, strict: true }));
  const openApiDocument = buildOpenApiDocument(http.maxMessageChars);
  app.get('/api/openapi.json', (_req, res) => {
    res.json(openApiDocument);
  });
  app.use(healthRoutes({ manager: deps.manager, metrics: deps.metrics, metricsAuth: requireMetricsToken(deps.metricsVerifier) }));
  app.use(sessionRoutes({ manager: deps.manager, workspaceRoot: deps.workspaceRoot, autoCreateWorkspaces: deps.autoCreateWorkspaces }));
  app.use(userRequestRoutes(deps.manager));
  app.use(
    messageRoutes({
      manager: deps.manager,
      maxMessageChars: http.maxMessageChars,
      abortOnDisconnect: http.abortOnDisconnect,
      submissionLimit: messageRateLimit(http.rateLimitPerMin),
      streamLimiter: new StreamLimiter(http.maxStreamsPerToken),
    }),
  );
  app.use(notFoundHandler);
  app.use(createErrorHandler(deps.logger.child({ component: 'http' })));
  return app;
}
