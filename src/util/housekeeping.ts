// Housekeeping: what the service does for itself, off any request's path or after the answer is
// decided (removing scratch dirs, purged workspaces and session homes, reaping a crashed run's
// orphans, probing the pool and the peers, restarting server instances). A failure of it is logged
// and counted in opencode_manager_housekeeping_errors_total{task}, and never thrown out of a timer or
// a promise nobody awaits: the service keeps serving. The last resort for a rejection nobody handled
// is installed by the service binary (installLastResort, from src/main.ts).
import { errorMessage } from './guards.js';

/**
 * - `tmp_cleanup`: scratch directories (a child's private TMPDIR, the catalog's and a handoff's data dirs)
 * - `orphan_reap`: at boot, a crashed previous run's processes and their TMPDIRs
 * - `purge`: `DELETE /api/sessions/:id?purge=true`: the workspace and the session home
 * - `handoff_release`: the session home of a session handed to a peer
 * - `pool_probe`: the pool's periodic probe (health, idle release, memory recycle)
 * - `directory_release`: releasing a directory from a server instance (idle, deleted or reset session)
 * - `supervisor`: a server instance's restart, exit watch, or start in a slot given to another session
 * - `peer_probe`: the periodic probe of the peer replicas
 * - `unhandled_rejection`: a rejected promise nobody handled (a bug: the last resort caught it)
 */
export const HOUSEKEEPING_TASKS = [
  'tmp_cleanup',
  'orphan_reap',
  'purge',
  'handoff_release',
  'pool_probe',
  'directory_release',
  'supervisor',
  'peer_probe',
  'unhandled_rejection',
  'disk_check',
] as const;
export type HousekeepingTask = (typeof HOUSEKEEPING_TASKS)[number];

/**
 * Where failures go: a logger and the counter (the manager's core and the service both have them).
 * Written as the shapes used here, so util/ imports nothing of the project: the service's Logger and
 * its Metrics' `housekeepingErrors` counter fit them.
 */
export interface Housekeeping {
  readonly logger: {
    warn(message: string, meta: Record<string, unknown>): unknown;
    error(message: string, meta: Record<string, unknown>): unknown;
  };
  readonly metrics: { readonly housekeepingErrors: { inc(labels: { task: HousekeepingTask }): void } };
}

/** The log message of every housekeeping failure (its `task` field says which). */
export const HOUSEKEEPING_FAILED = 'Housekeeping task failed';
/** The log message of the last resort. */
export const UNHANDLED_REJECTION = 'Unhandled promise rejection: logged and counted, the service keeps running';

/** Logs (warn) and counts one failure of `task`. Never throws. */
export function housekeepingFailed(target: Housekeeping, task: HousekeepingTask, error: unknown, fields: Record<string, unknown> = {}): void {
  try {
    target.metrics.housekeepingErrors.inc({ task });
    target.logger.warn(HOUSEKEEPING_FAILED, { task, ...fields, error: errorMessage(error) });
  } catch {
    // Reporting a failure must not become one.
  }
}

/**
 * Starts `work` now (synchronously, like `void work()`) for nobody to await: its failure, a rejection
 * or a throw, is reported, never left unhandled.
 */
export function inBackground(target: Housekeeping, task: HousekeepingTask, work: () => Promise<unknown>, fields: Record<string, unknown> = {}): void {
  let running: Promise<unknown>;
  try {
    running = work();
  } catch (error) {
    housekeepingFailed(target, task, error, fields);
    return;
  }
  running.catch((error: unknown) => housekeepingFailed(target, task, error, fields));
}

/** Runs `work`; its failure is reported and gives undefined instead of an error. */
export async function tolerate<T>(
  target: Housekeeping,
  task: HousekeepingTask,
  work: () => Promise<T>,
  fields: Record<string, unknown> = {},
): Promise<T | undefined> {
  try {
    return await work();
  } catch (error) {
    housekeepingFailed(target, task, error, fields);
    return undefined;
  }
}

/**
 * The service binary's last resort: a promise rejection nobody handled (always a bug) is logged at
 * error with its stack and counted as `unhandled_rejection`, and the service keeps serving, where
 * Node would exit. Uncaught exceptions still end the process (its state may be broken; the exit
 * hook ends every child tree), after a log line. Returns a function that removes both listeners.
 */
export function installLastResort(target: Housekeeping): () => void {
  const onRejection = (reason: unknown): void => {
    try {
      target.metrics.housekeepingErrors.inc({ task: 'unhandled_rejection' });
      target.logger.error(UNHANDLED_REJECTION, {
        task: 'unhandled_rejection',
        error: errorMessage(reason),
        ...(reason instanceof Error && reason.stack !== undefined ? { stack: reason.stack.split('\n').slice(0, 8).join('\n') } : {}),
      });
    } catch {
      // Nothing more can be done; above all, no throw from here.
    }
  };
  const onException = (error: Error, origin: string): void => {
    try {
      target.logger.error('Uncaught exception: the service exits', { origin, error: errorMessage(error), stack: error.stack });
    } catch {
      // Node prints the exception and exits anyway.
    }
  };
  process.on('unhandledRejection', onRejection);
  // The monitor only observes: the exception still ends the process.
  process.on('uncaughtExceptionMonitor', onException);
  return () => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtExceptionMonitor', onException);
  };
}
