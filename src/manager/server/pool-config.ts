// What a server pool is given: the pool section of the configuration, what boot settled (binary,
// size, environment), and the fixed sets of reasons its restarts and releases are counted by.
import type { Config } from '../../config/config.js';
import type { ProcessStore } from '../../store/process-store.js';
import type { WarmUpCallAnswerer } from './warm-up-prompt.js';

export { DISPOSAL_REASONS, RESTART_REASONS, type DisposalReason, type RestartReason } from '../../contracts/vocabulary.js';

/** The pool section of the configuration. */
export type PoolConfig = Config['pool'];

/** What the pool runs and where, settled at boot. */
export interface PoolRuntime {
  /** Slots: OCPM_POOL_SIZE or its default. */
  readonly size: number;
  readonly binary: string;
  readonly dataDir: string;
  readonly env: Readonly<Record<string, string>>;
  readonly killGraceMs: number;
  /** Where server processes are recorded while they live. */
  readonly processes?: ProcessStore | undefined;
  /** The model gateway's warm-up calls: a restarted server's workspaces get a warm-up prompt (undefined without the gateway). */
  readonly warmUpCalls?: WarmUpCallAnswerer | undefined;
  /** The model gateway's configuration for a server: its session's key (isolated), else its slot's. */
  readonly gatewayEnv?:
    | ((owner: { readonly sessionId: string | undefined; readonly slot: number }) => Promise<{ env: Record<string, string>; port: number | undefined }>)
    | undefined;
}
