// One `opencode` process in a workspace, followed to the end of its whole tree: a per-message turn's
// run, or a command the embedding app runs itself. Refused while boot found no opencode.
import { OcpmError } from '../errors/errors.js';
import type { ManagerCore } from './manager-core.js';
import type { StandaloneOptions } from './manager-types.js';
import type { TrackedResult } from './process-tree/spawn-tracked.js';
import { readinessOf } from './readiness.js';

export function runStandalone(core: ManagerCore, workspaceDir: string, args: readonly string[], options: StandaloneOptions): Promise<TrackedResult> {
  const { binary } = core;
  if (binary === undefined) return Promise.reject(new OcpmError('opencode_unavailable', readinessOf(core)?.message ?? 'opencode is unavailable'));
  const env = { ...core.childEnv, ...options.env };
  return core.children.run({ ...options, file: binary.path, workspaceDir, args, env, timeoutMs: options.timeoutMs ?? core.settings.turns.turnTimeoutMs });
}
