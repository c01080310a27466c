// Where a session's opencode runs and keeps its conversation: its pool slot (pinned at first use) or,
// isolated, its own home and sandbox; the lease of a server instance for one turn; and the data dir
// and sandbox a per-message run of the session uses, so both modes see the same conversation.
import type { SessionRecord } from '../store/session-registry.js';
import type { ManagerCore } from './manager-core.js';
import { sessionHome, slotHome, type SessionHome } from './opencode-homes.js';
import type { SandboxWrapper } from './process-tree/spawn-tracked.js';
import type { Lease, Slot } from './server/server-pool.js';

/** The session's own opencode home (isolation). */
export function homeOf(core: ManagerCore, session: SessionRecord): SessionHome {
  return sessionHome(core.settings.storage.dataDir, session.id);
}

/** The session's pool slot, pinned at its first use. */
export function slotOf(core: ManagerCore, session: SessionRecord): Slot {
  const pool = core.runtime!.pool!;
  session.slot ??= pool.pickSlot().index;
  return pool.slotFor(session.slot);
}

/** The opencode data dir of a session in either mode: its slot's, or its own when isolated. */
export function dataHomeOf(core: ManagerCore, session: SessionRecord): string {
  const runtime = core.runtime;
  if (runtime?.sandbox !== undefined) return homeOf(core, session).data;
  if (runtime?.pool !== undefined) return slotOf(core, session).dataHome;
  session.slot ??= 0;
  return slotHome(core.settings.storage.dataDir, session.slot).data;
}

/** The server instance a turn of this session runs on, or undefined to run it per-message. */
export async function leaseServer(core: ManagerCore, session: SessionRecord, signal?: AbortSignal): Promise<Lease | undefined> {
  const pool = core.runtime?.pool;
  if (pool === undefined) return undefined;
  if (pool.isolated) return pool.leaseFor({ id: session.id, workspace: session.workspace, home: homeOf(core, session) }, signal);
  const instance = await pool.acquire(slotOf(core, session), signal);
  return instance === undefined ? undefined : { instance, release: () => undefined };
}

/** A per-message run's environment and sandbox: the session's data dir, or its sandboxed home. */
export async function perMessageLaunch(
  core: ManagerCore,
  session: SessionRecord,
): Promise<{ env: Record<string, string>; sandbox: SandboxWrapper | undefined }> {
  const sandbox = core.runtime?.sandbox;
  const gateway = (await core.gateway?.sessionAccess(session.id)) ?? { env: {}, port: undefined };
  if (sandbox === undefined) return { env: { XDG_DATA_HOME: dataHomeOf(core, session), ...gateway.env }, sandbox: undefined };
  const home = homeOf(core, session);
  return {
    env: { ...sandbox.childEnv(home), ...gateway.env },
    sandbox: (file, args, tmpDir) => sandbox.wrap(file, args, { sessionId: session.id, workspace: session.workspace, home, tmpDir, gatewayPort: gateway.port }),
  };
}
