// The manager's public entry: all the HTTP API, the cluster, the service and the library see of it.
export { OpencodeProcessManager } from './opencode-process-manager.js';
export type {
  ExecuteOptions,
  ManagerOptions,
  ManagerSettings,
  ManagerState,
  ManagerStats,
  SessionState,
  SessionView,
  StandaloneOptions,
} from './manager-types.js';
export type { TurnResult } from './turn.js';
export type { SessionTransfer } from '../contracts/session.js';
export type { TrackedResult } from './process-tree/spawn-tracked.js';
export { IsolationUnavailableError, resolveIsolation } from './isolation/isolation.js';
export { sessionsRoot } from './isolation/session-home.js';
export { SANDBOX_BINARY } from './isolation/sandbox-binary.js';
