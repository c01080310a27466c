// The public types of OpencodeProcessManager: its settings and options, and what it reports.
import type { Config } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Registry } from '../store/registry.js';
import type { TurnStore } from '../store/turn-store.js';
import type { UserRequests } from './user-requests/user-requests.js';
import type { BusEvent } from '../opencode-wire/bus-events.js';
import type { OpencodeEvent } from '../opencode-wire/run-events.js';
import type { InstanceStatus } from './server/server-pool.js';
import type { StartQueueStatus } from './server/start-gate.js';
import type { MemoryStatus } from './server/memory-room.js';
import type { TurnMode } from './turn.js';
import type { RunChildOptions } from './per-message/run-children.js';
import type { Isolation } from './isolation/isolation.js';
import type { GatewayStatus } from '../gateway/model-gateway.js';
import type { ManagerState } from './lifecycle.js';
import type { UserRequestEvent } from './user-requests/user-request.js';
import type { UsageTokens } from '../usage/usage.js';

export type { ManagerState } from './lifecycle.js';

/** The configuration sections the manager reads, whole, with the keys of the settings table. */
export type ManagerSettings = Pick<Config, 'storage' | 'opencode' | 'turns' | 'queue' | 'budgets' | 'pool' | 'isolation' | 'gateway'>;

/** Settings an embedding app passes: any key left out of a section takes the table's default. */
export type PartialManagerSettings = { readonly [S in keyof ManagerSettings]?: Partial<ManagerSettings[S]> };

export interface ManagerOptions {
  /** Anything left out takes the documented default. */
  readonly settings: PartialManagerSettings;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  /** The environment children are built from (defaults to process.env, filtered by the allow-list). */
  readonly env?: NodeJS.ProcessEnv;
  /** The service's own version, for build_info. */
  readonly serviceVersion?: string;
  /** Where sessions, processes and turns are kept (the service passes SQLite; default: memory). */
  readonly registry?: Registry;
  /** Resolved isolation (the service resolves it before listening); default: from settings.isolation. */
  readonly isolation?: Isolation;
  /** The service's HTTP port, which the agent's commands may never connect to. */
  readonly servicePort?: number;
}

export interface ExecuteOptions {
  readonly model?: string;
  readonly agent?: string;
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
  /** Every opencode event as it arrives: `run` JSON lines, or bus events `{ type, properties }` in server mode. */
  readonly onEvent?: (event: OpencodeEvent | BusEvent) => void;
  /** Each permission request and question of the turn forwarded to the client, and how each ended. */
  readonly onUserRequest?: (event: UserRequestEvent) => void;
}

/** Options of one standalone opencode child (RunChildOptions without what the manager fills in). */
export type StandaloneOptions = Partial<Omit<RunChildOptions, 'file' | 'workspaceDir' | 'args'>>;

/**
 * What a session is doing: `waiting_on_user` (its turn waits on a permission request or question),
 * `busy` (a turn runs), `queued` (its messages wait for their turn), else `idle`.
 */
export { SESSION_STATES, type SessionState } from '../contracts/vocabulary.js';

/** What the web app does with the requests that wait on a person. */
export type UserRequestDesk = Pick<UserRequests, 'list' | 'listAll' | 'answerPermission' | 'answerQuestion'>;

/** What the API reads of the turn history. */
export type TurnHistory = Pick<TurnStore, 'list' | 'recent'>;

/** A session as the API shows it: declared once, in src/contracts/session.ts. */
export type { SessionView } from '../contracts/session.js';

export interface ManagerStats {
  available: boolean;
  version: string | null;
  runningProcesses: number;
  activeStreams: number;
  processManager: {
    isRunning: boolean;
    isReady: boolean;
    pendingRequests: number;
    activeSessions: number;
    lastActivity: number;
    idleTime: number;
    mode: 'per-session' | 'server';
    description: string;
    /** Server mode only: one entry per pool slot (no password, path or session id). */
    instances?: InstanceStatus[];
    /** Server mode only: servers starting now and starts waiting for their turn (OCPM_MAX_CONCURRENT_STARTS). */
    starts?: StartQueueStatus;
    /** Isolated server mode under OCPM_MEMORY_LIMIT_MB only. */
    memory?: MemoryStatus;
  };
  /** Added fields (the shape above is kept as the web app knows it). */
  state: ManagerState;
  /** True from the first SIGTERM/SIGINT: no new messages, running turns finish. */
  draining: boolean;
  /** Messages waiting for their turn (part of pendingRequests). */
  queuedRequests: number;
  /** Turns running now. */
  runningTurns: number;
  /** Sessions whose turn waits on a person's answer to a permission request or question. */
  sessionsWaitingOnUser: number;
  sessions: number;
  serverModeSupported: boolean;
  /** The mode OCPM_MODE resolved to at boot; `processManager.mode` says what serves right now. */
  configuredMode: TurnMode | null;
  unavailableReason: string | null;
  /** Why /readyz answers 503 (starting, draining, no provider, a broken opencode config…); null when ready. */
  notReady: { code: string; message: string } | null;
  /** How sessions are kept apart: `landlock` (enforced) or `none`. */
  isolation: Pick<Isolation, 'mechanism' | 'enforced' | 'protections' | 'warnings'>;
  /**
   * What opencode told the service at boot: its usable providers and default model. `configured` is
   * false when no provider is (messages answer no_provider), null when opencode could not be asked.
   */
  opencode: { providers: string[]; defaultModel: string | null; configured: boolean | null };
  /** Usage of the sessions this replica holds, summed, and the per-session budgets (null: none). */
  usage: UsageTotals;
  /** The model gateway: the providers it stands in for, those refused, live keys; null when OCPM_MODEL_GATEWAY is off. */
  gateway: GatewayStatus | null;
}

export interface UsageTotals {
  tokens: UsageTokens;
  cost: number;
  turns: number;
  /** Sessions over a budget (their new messages get 429 budget_exceeded). */
  sessionsOverBudget: number;
  budgets: { tokens: number | null; costUsd: number | null };
}

/** `processManager.description` of the status, per situation. */
export const MODE_DESCRIPTIONS = {
  perMessage: 'Each message spawns separate OpenCode process',
  server: 'Messages are served by persistent OpenCode server processes (opencode serve)',
  fallback: 'No OpenCode server can serve now: each message spawns separate OpenCode process (fallback)',
};
