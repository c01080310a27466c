// Server mode with isolation: each session gets an `opencode serve` of its own, confined to its
// sandbox and home, from an isolated pool (started on demand, stopped when idle or given to another
// session). Per-message runs of the session use the same home and sandbox.
import type { Session } from '../../store/session-registry.js';
import type { SessionSandbox } from '../isolation/session-sandbox.js';
import type { DisposalReason } from '../server/pool-config.js';
import type { ServerInstance } from '../server/server-instance.js';
import type { IsolatedServerPool } from '../server/isolated-server-pool.js';
import type { Lease } from '../server/server-pool.js';
import { FallbackNotice } from './fallback-notice.js';
import type { PlacementDeps } from './placement.js';
import { SandboxedPerMessagePlacement } from './sandboxed-per-message-placement.js';

export class IsolatedPoolPlacement extends SandboxedPerMessagePlacement {
  private readonly fallback: FallbackNotice;

  constructor(
    deps: PlacementDeps,
    sandbox: SessionSandbox,
    private readonly servers: IsolatedServerPool,
  ) {
    super(deps, sandbox, servers);
    this.fallback = new FallbackNotice(deps.logger);
  }

  override async lease(session: Session, signal?: AbortSignal): Promise<Lease | undefined> {
    const lease = await this.servers.leaseFor({ id: session.id, workspace: session.workspace, home: this.homeOf(session) }, { signal, mayWait: true });
    this.fallback.note(lease !== undefined);
    return lease;
  }

  override servingInstance(session: Session): ServerInstance | undefined {
    return this.servers.slotOfSession(session.id)?.ready;
  }

  /** Starts the session's own server (a few seconds) so that its first message does not wait for it; never waits for memory. */
  override warmUpLease(session: Session): Promise<Lease | undefined> | undefined {
    if (this.servers.slotOfSession(session.id) !== undefined) return undefined;
    return this.servers.leaseFor({ id: session.id, workspace: session.workspace, home: this.homeOf(session) }, { mayWait: false });
  }

  /** The session's server stops and its slot is free. */
  override async release(session: Session, reason: DisposalReason): Promise<void> {
    await this.servers.releaseSession(session.id, reason === 'session_reset' ? 'its session was reset' : 'its session was deleted');
  }
}
