// createApp(deps) -> the Express app: no listen, no side effects, so tests run it on port 0.
import express, { type Express } from 'express';
import helmet from 'helmet';
import type { Logger } from '../logging/logger.js';
import type { OpencodeProcessManager } from '../manager/opencode-process-manager.js';
import type { Metrics } from '../metrics/metrics.js';
import { createErrorHandler, notFoundHandler } from './http-errors.js';
import { requestMetrics } from './request-metrics.js';
import { healthRoutes } from './routes/health.js';
import { messageRoutes } from './routes/messages.js';
import { sessionRoutes } from './routes/sessions.js';

export interface AppDeps {
  readonly manager: OpencodeProcessManager;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** The real path of OCPM_WORKSPACE_ROOT. */
  readonly workspaceRoot: string;
  readonly maxBodyBytes: number;
  readonly maxMessageChars: number;
  readonly abortOnDisconnect: boolean;
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(helmet());
  app.use(requestMetrics(deps.metrics));
  app.use(express.json({ limit: deps.maxBodyBytes, strict: true }));
  app.use(healthRoutes({ manager: deps.manager, metrics: deps.metrics }));
  app.use(sessionRoutes({ manager: deps.manager, workspaceRoot: deps.workspaceRoot }));
  app.use(messageRoutes({ manager: deps.manager, maxMessageChars: deps.maxMessageChars, abortOnDisconnect: deps.abortOnDisconnect }));
  app.use(notFoundHandler);
  app.use(createErrorHandler(deps.logger.child({ component: 'http' })));
  return app;
}
