// Server mode without isolation: a shared pool of `opencode serve` processes; each session is pinned
// to one slot at its first use and its conversation lives in that slot's data dir (per-message runs
// of the session, when no server can serve, use the same dir).
import { errorMessage } from '../../util/guards.js';
import type { Session } from '../../store/session-registry.js';
import type { OpencodeClient } from '../server/opencode-client.js';
import type { DisposalReason } from '../server/pool-config.js';
import type { ServerInstance } from '../server/server-instance.js';
import type { Lease } from '../server/server-pool.js';
import type { SharedServerPool } from '../server/shared-server-pool.js';
import type { Slot } from '../server/slot.js';
import { FallbackNotice } from './fallback-notice.js';
import { PerMessagePlacement } from './per-message-placement.js';
import type { PlacementDeps } from './placement.js';

export class SharedPoolPlacement extends PerMessagePlacement {
  /** A shared server that failed at boot would fail for the catalog too: the listing commands read it. */
  override readonly ownCatalogServer = false;
  private readonly fallback: FallbackNotice;

  constructor(
    deps: PlacementDeps,
    private readonly servers: SharedServerPool,
  ) {
    super(deps, servers);
    this.fallback = new FallbackNotice(deps.logger);
  }

  /** The session's slot, pinned at its first use. */
  private slotOf(session: Session): Slot {
    if (session.slot === undefined) this.deps.sessions.pinSlot(session, this.servers.pickSlot().index);
    return this.servers.slotFor(session.slot ?? 0);
  }

  override async lease(session: Session, signal?: AbortSignal): Promise<Lease | undefined> {
    const instance = await this.servers.acquire(this.slotOf(session), signal);
    this.fallback.note(instance !== undefined);
    return instance === undefined ? undefined : { instance, release: () => undefined };
  }

  override dataHome(session: Session): string {
    return this.slotOf(session).dataHome;
  }

  override servingInstance(session: Session): ServerInstance | undefined {
    return session.slot === undefined ? undefined : this.servers.slotFor(session.slot).ready;
  }

  /** A new session's conversation is created on its slot's server if that one is ready. */
  override warmUpLease(session: Session): Promise<Lease | undefined> | undefined {
    if (session.opencodeSessionId !== undefined) return undefined;
    const instance = this.slotOf(session).ready;
    return instance === undefined ? undefined : Promise.resolve({ instance, release: () => undefined });
  }

  /**
   * Gives the slot's pin back (a reset session picks a slot again at its next message) and releases
   * the workspace's directory from the slot's server when no other session of that slot uses it.
   */
  override async release(session: Session, reason: DisposalReason): Promise<void> {
    const index = session.slot;
    if (index === undefined) return;
    this.servers.unpin(index);
    // A deleted session keeps the number: a purge finds the server that holds its conversation by it.
    if (reason === 'session_reset') this.deps.sessions.pinSlot(session, undefined);
    const stillUsed = this.deps.sessions.list().some((other) => other.id !== session.id && other.slot === index && other.workspace === session.workspace);
    if (!stillUsed) await this.servers.releaseDirectory(this.servers.slotFor(index), session.workspace, reason);
  }

  /** The conversation lives in a database other sessions share: only opencode's own delete is possible. */
  override async purgeConversation(session: Session): Promise<void> {
    const client = this.servingInstance(session)?.client;
    if (client === undefined || session.opencodeSessionId === undefined) return;
    await client.deleteSession(session.opencodeSessionId, session.workspace, this.deps.healthTimeoutMs).catch((error: unknown) => {
      this.deps.logger.warn("opencode could not delete the purged session's conversation", { sessionId: session.id, error: errorMessage(error) });
    });
  }

  override catalogClient(): OpencodeClient | undefined {
    return this.servers.slots.find((slot) => slot.state === 'ready')?.instance?.client;
  }
}
