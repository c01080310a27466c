// Builds the whole service from a Config: logger, metrics, the manager singleton's dependencies and
// the HTTP server. main.ts adds signals and process exit; tests call this directly on port 0.
import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from './config/config.js';
import { loadApiAuth } from './auth/api-tokens.js';
import { TokenVerifier } from './auth/token-verifier.js';
import { createApp } from './http/app.js';
import { createLogger, type Logger } from './logging/logger.js';
import { OpencodeProcessManager, resolveIsolation, SANDBOX_BINARY, sessionsRoot } from './manager/index.js';
import { createMetrics, type Metrics } from './metrics/metrics.js';
import { SERVICE_VERSION } from './version.js';
import { prepareWorkspaceRoot } from './workspace/resolve-workspace.js';
import { openSqliteRegistry } from './store/registry.js';
import { Cluster } from './cluster/cluster.js';
import { hasPeers, replicaNameOf } from './config/settings-cluster.js';
import { requirePeerToken } from './http/auth.js';

export interface Service {
  readonly manager: OpencodeProcessManager;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly server: Server;
  /** The bound port (useful with PORT=0). */
  readonly port: number;
  /**
   * Graceful stop: drains (no new messages; accepted ones get OCPM_DRAIN_TIMEOUT_MS), ends every turn
   * and child, then closes the HTTP server (probes and status answer until then).
   */
  close(): Promise<void>;
}

export interface ServiceOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly logger?: Logger;
  /** The registry to export (main.ts creates it first, for its last resort); default: a new one. */
  readonly metrics?: Metrics;
  /** Use OpencodeProcessManager.getInstance (the service binary) or a fresh instance (tests, embedding). */
  readonly singleton?: boolean;
}

export async function startService(config: Config, options: ServiceOptions = {}): Promise<Service> {
  const logger = options.logger ?? createLogger({ level: config.log.logLevel, format: config.log.logFormat });
  const metrics = options.metrics ?? createMetrics();
  await mkdir(config.storage.dataDir, { recursive: true });
  // Tokens are settled before anything opens or listens: a bad token file stops boot with a ConfigError.
  const auth = loadApiAuth({ ...config.auth, dataDir: config.storage.dataDir }, logger.child({ component: 'auth' }));
  const workspaceRoot = await prepareWorkspaceRoot(config.storage.workspaceRoot);
  // A corrupt or unreadable registry throws RegistryError here: boot stops, nothing starts empty.
  const registry = openSqliteRegistry(config.storage.dataDir);
  // OCPM_ISOLATION=required on a kernel that cannot confine throws here: nothing listens.
  // Session uids must reach their directories, the launcher and opencode (by default beside it).
  const uidPaths = [
    workspaceRoot,
    sessionsRoot(config.storage.dataDir),
    path.dirname(SANDBOX_BINARY),
    ...(config.opencode.opencodeBin === undefined ? [] : [config.opencode.opencodeBin]),
  ];
  const isolation = resolveIsolation(config.isolation, undefined, uidPaths);
  const managerOptions = {
    isolation,
    servicePort: config.http.port,
    settings: config,
    logger,
    metrics,
    registry,
    serviceVersion: SERVICE_VERSION,
    env: options.env,
  };
  const manager = options.singleton === true ? OpencodeProcessManager.getInstance(managerOptions) : new OpencodeProcessManager(managerOptions);
  const replica = replicaNameOf(config.cluster, config.http.port);
  const cluster = hasPeers(config.cluster)
    ? new Cluster(
        replica,
        config.cluster,
        config.storage.dataDir,
        () => config.cluster.peerToken ?? auth.primaryToken(),
        metrics,
        logger.child({ component: 'cluster' }),
      )
    : undefined;
  const app = createApp({
    manager,
    metrics,
    logger,
    workspaceRoot,
    http: config.http,
    autoCreateWorkspaces: config.storage.autoCreateWorkspaces,
    auth,
    metricsVerifier: config.auth.metricsToken.length > 0 ? new TokenVerifier(config.auth.metricsToken) : undefined,
    replica,
    cluster:
      cluster === undefined
        ? undefined
        : {
            cluster,
            peerAuth: requirePeerToken(config.cluster.peerToken === undefined ? undefined : new TokenVerifier([config.cluster.peerToken]), auth),
            peerTimeoutMs: config.cluster.peerTimeoutMs,
            handoffTimeoutMs: config.cluster.handoffTimeoutMs,
          },
  });
  // Without authentication the API must not be reachable from other hosts, whatever HOST says.
  const host = config.auth.auth === 'disabled' ? '127.0.0.1' : config.http.host;
  const server = await new Promise<Server>((resolve, reject) => {
    const listening = app.listen(config.http.port, host, (error?: Error) => (error === undefined ? resolve(listening) : reject(error)));
  });
  const port = (server.address() as AddressInfo).port;
  const httpLogger = logger.child({ component: 'http' });
  httpLogger.info('HTTP server listening', { host, port, auth: config.auth.auth });
  // Probes answer while opencode is being probed; /readyz turns 200 when the manager is ready.
  await manager.start();
  // Peers are probed once this replica answers their probes too.
  if (cluster !== undefined) {
    await cluster.start();
    logger.info('Replica joined its peers', { replica: cluster.self, peers: cluster.status().peers });
  }

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      // With peers, every session is handed to one of them between the drain and the stop.
      await manager.drain(config.turns.drainTimeoutMs, cluster === undefined ? undefined : () => cluster.handOffAll(manager, config.cluster.handoffTimeoutMs));
      cluster?.stop();
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      server.closeAllConnections();
      await serverClosed;
      httpLogger.info('HTTP server closed');
    })();
    return closing;
  };
  return { manager, metrics, logger, server, port, close };
}
