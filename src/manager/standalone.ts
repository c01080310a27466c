// One `opencode` process in a workspace, followed to the end of its whole tree: a per-message turn's
// run, or a command the embedding app runs itself. Refused while boot found no opencode.
import { OcpmError } from '../errors/errors.js';
import type { StandaloneOptions } from './manager-types.js';
import type { OpencodeBinary } from './opencode-binary.js';
import type { RunChildren } from './per-message/run-children.js';
import type { TrackedResult } from './process-tree/spawn-tracked.js';
import type { NotReady } from './readiness.js';

/** What a standalone run uses; the binary and the environment are read at each run (boot sets them). */
export interface StandaloneDeps {
  /** Undefined until boot found opencode (and for good when it did not). */
  readonly binary: () => Pick<OpencodeBinary, 'path'> | undefined;
  readonly childEnv: () => Readonly<Record<string, string>>;
  readonly children: Pick<RunChildren, 'run'>;
  /** Why the service cannot answer (the message of the refusal without a binary). */
  readonly readiness: () => NotReady | undefined;
  /** The timeout of a run that sets none (OCPM_TURN_TIMEOUT_MS). */
  readonly turnTimeoutMs: number;
}

/** runStandalone bound to its deps: what the turn runner and the façade call. */
export type Standalone = (workspaceDir: string, args: readonly string[], options: StandaloneOptions) => Promise<TrackedResult>;

export function runStandalone(deps: StandaloneDeps, workspaceDir: string, args: readonly string[], options: StandaloneOptions): Promise<TrackedResult> {
  const binary = deps.binary();
  if (binary === undefined) return Promise.reject(new OcpmError('opencode_unavailable', deps.readiness()?.message ?? 'opencode is unavailable'));
  const env = { ...deps.childEnv(), ...options.env };
  return deps.children.run({ ...options, file: binary.path, workspaceDir, args, env, timeoutMs: options.timeoutMs ?? deps.turnTimeoutMs });
}
