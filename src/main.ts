// The service binary: configuration, the HTTP server, and signals. SIGTERM/SIGINT stop it
// gracefully (every turn aborted, every opencode process and descendant ended); a second signal
// exits at once after a SIGKILL of every child tree. A promise rejection nobody handled is logged and
// counted (housekeeping_errors_total{task="unhandled_rejection"}) and the service keeps serving.
import { ConfigError, loadConfig } from './config/config.js';
import { createLogger } from './logging/logger.js';
import { createMetrics } from './metrics/metrics.js';
import { startService } from './service.js';
import { RegistryError } from './store/database.js';
import { IsolationUnavailableError } from './manager/index.js';
import { errorMessage } from './util/guards.js';
import { installLastResort } from './util/housekeeping.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    createLogger({ level: 'info', format: 'json' }).error('Invalid configuration; not starting', { variable: error.variable, reason: error.message });
    process.exitCode = 1;
    return;
  }
  const logger = createLogger({ level: config.log.logLevel, format: config.log.logFormat });
  const lifecycle = logger.child({ component: 'lifecycle' });
  const metrics = createMetrics();
  // From here on a promise rejection nobody handled is logged and counted instead of ending the service.
  installLastResort({ logger: lifecycle, metrics });
  const service = await startService(config, { logger, metrics, singleton: true });
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      lifecycle.warn('Second signal: exiting now', { signal });
      service.manager.killAllNow();
      process.exit(1);
    }
    stopping = true;
    lifecycle.info('Shutting down', { signal });
    service.close().then(
      () => {
        lifecycle.info('Shutdown complete');
        process.exit(0);
      },
      (error: unknown) => {
        lifecycle.error('Shutdown failed', { error: errorMessage(error) });
        service.manager.killAllNow();
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

main().catch((error: unknown) => {
  const message = errorMessage(error);
  const what =
    error instanceof RegistryError
      ? 'The registry database is unusable; not starting'
      : error instanceof IsolationUnavailableError
        ? 'Isolation is required but unavailable; not starting'
        : 'The service failed to start';
  createLogger({ level: 'info', format: 'json' }).error(what, { error: message });
  process.exit(1);
});
