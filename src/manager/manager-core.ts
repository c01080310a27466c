// What every part of the manager shares: its settings (whole configuration sections), logger,
// metrics, registry, lifecycle, the `opencode run` children, and what boot found and chose: the
// binary and the placement.
import path from 'node:path';
import { configDefaults } from '../config/config.js';
import { createSilentLogger, type Logger } from '../logging/logger.js';
import { createMetrics, type Metrics } from '../metrics/metrics.js';
import { userRequestRecorder } from '../metrics/user-request-metrics.js';
import { memoryRegistry, type Registry } from '../store/registry.js';
import { SessionRegistry } from '../store/session-registry.js';
import { Activity } from './activity.js';
import type { OpencodeCatalog } from './catalog/catalog.js';
import { buildChildEnv } from './child-env.js';
import { ModelGateway } from '../gateway/model-gateway.js';
import { resolveIsolation, type Isolation } from './isolation/isolation.js';
import { sessionsRoot } from './isolation/session-home.js';
import { SANDBOX_BINARY } from './isolation/sandbox-binary.js';
import { DiskGuard } from './isolation/disk-guard.js';
import { hasProtection } from './isolation/isolation.js';
import { Lifecycle } from './lifecycle.js';
import type { ManagerOptions, ManagerSettings, PartialManagerSettings } from './manager-types.js';
import type { OpencodeBinary } from './opencode-binary.js';
import { RunChildren } from './per-message/run-children.js';
import { PerMessagePlacement } from './placement/per-message-placement.js';
import type { Placement, PlacementDeps } from './placement/placement.js';
import { UserRequests } from './user-requests/user-requests.js';

/** What boot found and chose: fixed until the manager stops. */
export interface Runtime {
  readonly binary: OpencodeBinary;
  /** Where sessions run: the mode OCPM_MODE resolved to, isolated or not. */
  readonly placement: Placement;
}

export interface ManagerCore {
  readonly settings: ManagerSettings;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly registry: Registry;
  readonly sessions: SessionRegistry;
  readonly children: RunChildren;
  readonly lifecycle: Lifecycle;
  readonly activity: Activity;
  /** Permission requests and questions of running turns that wait on a person. */
  readonly userRequests: UserRequests;
  readonly isolation: Isolation;
  readonly servicePort: number | undefined;
  /** With isolation's `limits` layer and OCPM_SESSION_DISK_MB: each workspace's size between turns. */
  readonly diskGuard: DiskGuard | undefined;
  /** The environment children are built from, and the filtered one they get. */
  readonly sourceEnv: NodeJS.ProcessEnv;
  /** Never a provider credential while the gateway runs; its configuration is added once it listens. */
  childEnv: Readonly<Record<string, string>>;
  /** OCPM_MODEL_GATEWAY: where opencode's model calls go, counted and budgeted per session; undefined when off. */
  readonly gateway: ModelGateway | undefined;
  readonly serviceVersion: string;
  /** Undefined until boot found opencode (and for good when it did not). */
  binary: OpencodeBinary | undefined;
  /** Where sessions run; per-message (no servers, no sandbox) until boot chose (and when it found no opencode). */
  placement: Placement;
  /** What boot builds the placement with. */
  readonly placementDeps: PlacementDeps;
  /** The providers, models and agents opencode has, read at boot; undefined when unknown (nothing is refused then). */
  catalog: OpencodeCatalog | undefined;
}

/** Each section the caller passes over the table's defaults. */
export function withDefaults(partial: PartialManagerSettings): ManagerSettings {
  const defaults = configDefaults();
  return {
    storage: { ...defaults.storage, ...partial.storage },
    opencode: { ...defaults.opencode, ...partial.opencode },
    turns: { ...defaults.turns, ...partial.turns },
    queue: { ...defaults.queue, ...partial.queue },
    budgets: { ...defaults.budgets, ...partial.budgets },
    pool: { ...defaults.pool, ...partial.pool },
    isolation: { ...defaults.isolation, ...partial.isolation },
    gateway: { ...defaults.gateway, ...partial.gateway },
  };
}

export function createCore(options: ManagerOptions): ManagerCore {
  const settings = withDefaults(options.settings);
  const logger = (options.logger ?? createSilentLogger()).child({ component: 'process-manager' });
  const metrics = options.metrics ?? createMetrics();
  const registry = options.registry ?? memoryRegistry();
  const sourceEnv = options.env ?? process.env;
  const isolation =
    options.isolation ?? resolveIsolation(settings.isolation, undefined, [sessionsRoot(settings.storage.dataDir), path.dirname(SANDBOX_BINARY)]);
  const diskMb = settings.isolation.sessionDiskMb;
  const gateway = ModelGateway.prepare(sourceEnv, settings.gateway);
  const childEnv = buildChildEnv(sourceEnv, settings.opencode.childEnvAllow);
  const sessions = new SessionRegistry(registry.sessions);
  const placementDeps: PlacementDeps = {
    dataDir: settings.storage.dataDir,
    sessions,
    gateway,
    logger,
    housekeeping: { logger, metrics },
    healthTimeoutMs: settings.pool.healthTimeoutMs,
  };
  return {
    settings,
    logger,
    metrics,
    registry,
    sessions,
    children: new RunChildren({ logger, metrics, processes: registry.processes, killGraceMs: settings.opencode.killGraceMs }),
    lifecycle: new Lifecycle(),
    activity: new Activity(),
    userRequests: new UserRequests(userRequestRecorder(metrics), logger),
    isolation,
    servicePort: options.servicePort,
    diskGuard: hasProtection(isolation, 'limits') && diskMb > 0 ? new DiskGuard(diskMb) : undefined,
    sourceEnv,
    childEnv: gateway === undefined ? childEnv : gateway.withoutCredentials(childEnv),
    gateway,
    serviceVersion: options.serviceVersion ?? '0.0.0',
    binary: undefined,
    placement: new PerMessagePlacement(placementDeps),
    placementDeps,
    catalog: undefined,
  };
}
