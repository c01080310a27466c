// Where a session's opencode runs and keeps its conversation, decided once at boot: one Placement per
// execution mode (per-message, per-message sandboxed, a shared server pool, an isolated server per
// session). Everything that depends on the mode asks the placement; nothing else reads the mode.
import type { ModelGateway } from '../../gateway/model-gateway.js';
import type { Session, SessionRegistry } from '../../store/session-registry.js';
import type { Housekeeping } from '../../util/housekeeping.js';
import type { Logger } from '../../logging/logger.js';
import type { SandboxWrapper } from '../process-tree/spawn-tracked.js';
import type { OpencodeClient } from '../server/opencode-client.js';
import type { DisposalReason } from '../server/pool-config.js';
import type { InstanceStatus } from '../server/pool-status.js';
import type { InstanceState, ServerInstance } from '../server/server-instance.js';
import type { Lease } from '../server/server-pool.js';
import type { StartQueueStatus } from '../server/start-gate.js';
import type { MemoryStatus } from '../server/memory-room.js';
import type { TurnMode } from '../turn.js';

/** How a per-message run of a session is launched: its environment and sandbox. */
export interface Launch {
  readonly env: Record<string, string>;
  readonly sandbox: SandboxWrapper | undefined;
}

/** What every placement is built with. */
export interface PlacementDeps {
  readonly dataDir: string;
  /** Pins are recorded on the session through it. */
  readonly sessions: SessionRegistry;
  readonly gateway: ModelGateway | undefined;
  readonly logger: Logger;
  readonly housekeeping: Housekeeping;
  /** How long opencode may take to delete a purged conversation. */
  readonly healthTimeoutMs: number;
}

export interface Placement {
  /** How turns run: `server` when a pool serves them (a turn may still fall back per-message). */
  readonly mode: TurnMode;
  /** Starts what runs from boot (a shared pool's servers) and the health probes. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** SIGKILLs every server process synchronously. */
  killNow(): void;

  /** Before each turn: what the session's opencode needs on disk. */
  prepareTurn(session: Session): Promise<void>;
  /** The server a turn of this session runs on, or undefined to run it per-message. */
  lease(session: Session, signal?: AbortSignal): Promise<Lease | undefined>;
  /** The opencode data dir of the session (server and per-message runs alike: one conversation). */
  dataHome(session: Session): string;
  /** A per-message run's environment and sandbox (also `opencode export`/`import` for a handoff). */
  launch(session: Session): Promise<Launch>;
  /** The server serving the session now, when one is ready (none is started for this). */
  servingInstance(session: Session): ServerInstance | undefined;
  /** Server mode: a server a new session's first message would otherwise wait for; undefined when nothing is to warm. */
  warmUpLease(session: Session): Promise<Lease | undefined> | undefined;

  /** Frees what the session holds (deleted or reset). */
  release(session: Session, reason: DisposalReason): Promise<void>;
  /** Deletes a purged session's conversation (its workspace is the caller's). */
  purgeConversation(session: Session): Promise<void>;
  /** Removes this replica's copy of a session a peer took over. */
  forget(session: Session): Promise<void>;
  /** The session's own opencode database (base64), when its conversation lives in one of its own. */
  exportDatabase(session: Session): Promise<string | undefined>;
  /** Installs a handed-over database as the session's own; false when this placement has none per session. */
  importDatabase(session: Session, database: string): Promise<boolean>;
  /** Before a handed-over conversation is imported: the session's home exists. */
  prepareHome(session: Session): Promise<void>;

  /** Whether a server can serve now (false in per-message mode). */
  canServe(): boolean;
  /** Server mode: every slot's status. */
  instances(): InstanceStatus[] | undefined;
  countByState(): Partial<Record<InstanceState, number>>;
  residentBytes(): number;
  /** Server mode: the servers starting and the starts waiting for their turn. */
  startQueue(): StartQueueStatus | undefined;
  /** Isolated server mode under a memory limit: the limit, what is held, a new server's estimate. */
  memoryStatus(): MemoryStatus | undefined;
  serverMemory(): Array<{ server: string; bytes: number }>;
  /** Drains and restarts one server (409 `not_server_mode` without a pool). */
  restartInstance(id: string, drainMs: number): Promise<InstanceStatus | undefined>;
  /** A ready server the catalog can be read from. */
  catalogClient(): OpencodeClient | undefined;
  /** Whether boot may start a server of its own to read the catalog (not when a shared server failed). */
  readonly ownCatalogServer: boolean;
}
