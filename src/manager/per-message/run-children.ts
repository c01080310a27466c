// The `opencode run` children of the manager: spawned through spawnTracked, recorded in the process
// registry, counted in metrics and logged at start and end; stopped together at shutdown.
import { errorMessage } from '../../util/guards.js';
import { housekeepingFailed } from '../../util/housekeeping.js';
import type { Logger } from '../../logging/logger.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { ProcessStore } from '../../store/process-store.js';
import { spawnTracked, type SpawnTrackedOptions, type TrackedChild, type TrackedResult } from '../process-tree/spawn-tracked.js';
import { treeResidentBytes } from '../process-tree/tree-memory.js';

/** One `opencode run` child: what to run where, and the spawn options a turn sets (declared once, in spawnTracked). */
export interface RunChildOptions extends Pick<
  SpawnTrackedOptions,
  'file' | 'args' | 'env' | 'stdin' | 'timeoutMs' | 'stallTimeoutMs' | 'signal' | 'onStdoutLine' | 'sandbox'
> {
  readonly workspaceDir: string;
  /** For logs only. */
  readonly sessionId?: string;
  /**
   * `run` (default): a message's `opencode run`; `cli`: any other opencode command the service runs
   * for itself (listing the catalog at boot, exporting or importing a conversation).
   */
  readonly kind?: RunChildKind;
}

export type RunChildKind = 'run' | 'cli';

export class RunChildren {
  private readonly children = new Map<string, { readonly child: TrackedChild; readonly kind: RunChildKind }>();

  constructor(private readonly deps: { logger: Logger; metrics: Metrics; processes: ProcessStore; killGraceMs: number }) {}

  get size(): number {
    return this.children.size;
  }

  /** Resident bytes of every child's whole tree, read from /proc. */
  residentBytes(kind: RunChildKind): number {
    return [...this.children.values()]
      .filter((entry) => entry.kind === kind)
      .map((entry) => entry.child)
      .reduce((sum, child) => sum + treeResidentBytes(child.identity), 0);
  }

  /** Spawns one child and follows it to the end of its whole tree. */
  async run(options: RunChildOptions): Promise<TrackedResult> {
    const { logger, metrics } = this.deps;
    const kind = options.kind ?? 'run';
    let child: TrackedChild;
    try {
      const { workspaceDir, sessionId, kind: _kind, ...spawn } = options;
      void sessionId; // logs only, not a spawn option
      void _kind; // metrics and the registry only
      child = await spawnTracked({
        ...spawn,
        cwd: workspaceDir,
        killGraceMs: this.deps.killGraceMs,
        registry: { store: this.deps.processes, kind },
        onCleanupError: (error) => housekeepingFailed({ logger, metrics }, 'tmp_cleanup', error, { sessionId }),
      });
    } catch (error) {
      metrics.spawns.inc({ kind, outcome: 'failed' });
      logger.error('OpenCode process failed to start', { sessionId: options.sessionId, reason: errorMessage(error) });
      throw error;
    }
    metrics.spawns.inc({ kind, outcome: 'started' });
    this.children.set(child.processId, { child, kind });
    logger.info('Executing OpenCode command (standalone)', {
      processId: child.processId,
      sessionId: options.sessionId,
      kind,
      pid: child.pid,
      activeProcesses: this.children.size,
    });
    try {
      const result = await child.done;
      logger.info('OpenCode command completed', {
        processId: child.processId,
        duration: result.durationMs,
        exitCode: result.exitCode,
        signal: result.signal,
        termination: result.termination,
        descendantsKilled: result.kill.found,
      });
      if (result.kill.survivors.length > 0) {
        logger.error('Processes survived SIGKILL', { processId: child.processId, pids: result.kill.survivors });
      }
      return result;
    } finally {
      this.children.delete(child.processId);
    }
  }

  /** Ends every child tree (SIGTERM, grace, SIGKILL) and waits. */
  async stopAll(reason: Error): Promise<void> {
    const children = [...this.children.values()].map((entry) => entry.child);
    for (const child of children) child.abort(reason);
    await Promise.allSettled(children.map((child) => child.done));
  }

  /** Synchronous SIGKILL of every tree, for exits that cannot wait. */
  killAllNow(): void {
    for (const { child } of this.children.values()) child.killNow();
  }
}
