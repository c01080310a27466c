// Per-message mode: no server; each message is its own `opencode run`, every session's conversation in
// one shared data dir (slot 0's, so it survives a switch to server mode). The base of the other
// placements: what a placement does without servers, and the status of the pool it is given.
import { OcpmError } from '../../errors/errors.js';
import type { Session } from '../../store/session-registry.js';
import { slotHome } from '../opencode-homes.js';
import type { OpencodeClient } from '../server/opencode-client.js';
import type { DisposalReason } from '../server/pool-config.js';
import type { InstanceStatus } from '../server/pool-status.js';
import type { InstanceState, ServerInstance } from '../server/server-instance.js';
import type { Lease, ServerPool } from '../server/server-pool.js';
import type { StartQueueStatus } from '../server/start-gate.js';
import type { MemoryStatus } from '../server/memory-room.js';
import type { TurnMode } from '../turn.js';
import type { Launch, Placement, PlacementDeps } from './placement.js';

export class PerMessagePlacement implements Placement {
  readonly mode: TurnMode;
  readonly ownCatalogServer: boolean = true;

  /** `pool`: the servers of a server-mode placement built on this one. */
  constructor(
    protected readonly deps: PlacementDeps,
    private readonly pool?: ServerPool,
  ) {
    this.mode = pool === undefined ? 'per-message' : 'server';
  }

  async start(): Promise<void> {
    await this.pool?.start();
  }

  async stop(): Promise<void> {
    await this.pool?.stop();
  }

  killNow(): void {
    this.pool?.killNow();
  }

  prepareTurn(_session: Session): Promise<void> {
    return Promise.resolve();
  }

  lease(_session: Session, _signal?: AbortSignal): Promise<Lease | undefined> {
    return Promise.resolve(undefined);
  }

  dataHome(session: Session): string {
    if (session.slot === undefined) this.deps.sessions.pinSlot(session, 0);
    return slotHome(this.deps.dataDir, session.slot ?? 0).data;
  }

  async launch(session: Session): Promise<Launch> {
    return { env: { XDG_DATA_HOME: this.dataHome(session), ...(await this.gatewayAccess(session)).env }, sandbox: undefined };
  }

  servingInstance(_session: Session): ServerInstance | undefined {
    return undefined;
  }

  warmUpLease(_session: Session): Promise<Lease | undefined> | undefined {
    return undefined;
  }

  release(_session: Session, _reason: DisposalReason): Promise<void> {
    return Promise.resolve();
  }

  /** The conversation lives in a database other sessions share, and no server runs to delete it. */
  purgeConversation(_session: Session): Promise<void> {
    return Promise.resolve();
  }

  forget(_session: Session): Promise<void> {
    return Promise.resolve();
  }

  exportDatabase(_session: Session): Promise<string | undefined> {
    return Promise.resolve(undefined);
  }

  importDatabase(_session: Session, _database: string): Promise<boolean> {
    return Promise.resolve(false);
  }

  prepareHome(_session: Session): Promise<void> {
    return Promise.resolve();
  }

  canServe(): boolean {
    return this.pool?.canServe() ?? false;
  }

  instances(): InstanceStatus[] | undefined {
    return this.pool?.statusOf();
  }

  countByState(): Partial<Record<InstanceState, number>> {
    return this.pool?.countByState() ?? {};
  }

  startQueue(): StartQueueStatus | undefined {
    return this.pool?.startQueue();
  }

  memoryStatus(): MemoryStatus | undefined {
    return this.pool?.memoryStatus();
  }

  residentBytes(): number {
    return this.pool?.residentBytes() ?? 0;
  }

  serverMemory(): Array<{ server: string; bytes: number }> {
    return this.pool?.slots.map((slot) => ({ server: slot.id, bytes: slot.instance?.rssBytes ?? 0 })) ?? [];
  }

  async restartInstance(id: string, drainMs: number): Promise<InstanceStatus | undefined> {
    if (this.pool === undefined) {
      throw new OcpmError('not_server_mode', 'The manager runs no opencode server pool (per-message mode): there is no instance to restart');
    }
    return this.pool.restartInstance(id, drainMs);
  }

  catalogClient(): OpencodeClient | undefined {
    return undefined;
  }

  /** The session's model key and gateway port (nothing when the gateway is off). */
  protected async gatewayAccess(session: Session): Promise<{ env: Record<string, string>; port: number | undefined }> {
    return (await this.deps.gateway?.sessionAccess(session.id)) ?? { env: {}, port: undefined };
  }
}
