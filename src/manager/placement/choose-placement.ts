// The one place the execution mode and the isolation decide anything: boot builds the placement that
// fits them, and every later question about where a session runs goes to it.
import type { SessionSandbox } from '../isolation/session-sandbox.js';
import type { ManagerCore } from '../manager-core.js';
import type { OpencodeBinary } from '../opencode-binary.js';
import type { PoolRuntime } from '../server/pool-config.js';
import { cgroupMemoryLimitBytes } from '../../util/cgroup-memory.js';
import { IsolatedServerPool } from '../server/isolated-server-pool.js';
import { MemoryRoom, memoryLimitBytes } from '../server/memory-room.js';
import { SharedServerPool } from '../server/shared-server-pool.js';
import type { TurnMode } from '../turn.js';
import { IsolatedPoolPlacement } from './isolated-pool-placement.js';
import { PerMessagePlacement } from './per-message-placement.js';
import type { Placement } from './placement.js';
import { SandboxedPerMessagePlacement } from './sandboxed-per-message-placement.js';
import { SharedPoolPlacement } from './shared-pool-placement.js';

export function choosePlacement(
  core: ManagerCore,
  binary: OpencodeBinary,
  mode: TurnMode,
  sandbox: SessionSandbox | undefined,
  sessionInUse: (sessionId: string) => boolean,
): Placement {
  const deps = core.placementDeps;
  if (mode === 'per-message') return sandbox === undefined ? new PerMessagePlacement(deps) : new SandboxedPerMessagePlacement(deps, sandbox);
  const { settings, metrics, logger } = core;
  metrics.instanceMemoryLimit.set(settings.pool.maxInstanceRssMb * 1024 * 1024);
  const runtime: PoolRuntime = {
    // One shared server by default; isolated, one server per turn that can run at once.
    size: settings.pool.poolSize ?? (sandbox === undefined ? 1 : settings.queue.maxConcurrentTurns),
    binary: binary.path,
    dataDir: settings.storage.dataDir,
    env: core.childEnv,
    killGraceMs: settings.opencode.killGraceMs,
    processes: core.registry.processes,
    gatewayEnv: gatewayEnvOf(core),
    warmUpCalls: core.gateway?.warmUpCalls,
  };
  if (sandbox === undefined) return new SharedPoolPlacement(deps, new SharedServerPool(settings.pool, runtime, metrics, logger));
  const memory = new MemoryRoom(memoryLimitBytes(settings.pool.memoryLimitMb, cgroupMemoryLimitBytes()), () => serviceOwnBytes(core));
  if (memory.limitBytes !== undefined)
    logger.info('Servers start within a memory limit', { limitMb: Math.round(memory.limitBytes / 1048576), whenFull: settings.pool.whenMemoryFull });
  return new IsolatedPoolPlacement(deps, sandbox, new IsolatedServerPool(settings.pool, runtime, sandbox, sessionInUse, memory, metrics, logger));
}

/** What the service holds besides its servers: its own process and its per-message runs (and CLI calls). */
function serviceOwnBytes(core: ManagerCore): number {
  return process.memoryUsage.rss() + core.children.residentBytes('run') + core.children.residentBytes('cli');
}

/** Each server's model key: its session's when isolated, else its slot's (calls then name their conversation). */
function gatewayEnvOf(core: ManagerCore): PoolRuntime['gatewayEnv'] {
  const { gateway } = core;
  if (gateway === undefined) return undefined;
  return async ({ sessionId, slot }) => (sessionId === undefined ? { env: gateway.envForSlot(slot), port: undefined } : gateway.sessionAccess(sessionId));
}
