// Admission of messages: whether the manager takes one now (its state, the queue limits), the wait
// for its turn, and the abort handles of every accepted message (waiting or running) per session, so
// a delete, an abort call or a shutdown reaches each of them.
import { OcpmError } from '../errors/errors.js';
import type { Metrics } from '../metrics/metrics.js';
import type { DiskGuard } from './isolation/disk-guard.js';
import type { Lifecycle } from './lifecycle.js';
import type { NotReady } from './readiness.js';
import type { TurnOutcome } from './turn.js';
import { QueueRejectedError, TurnScheduler, type SchedulerSettings } from './turn-scheduler.js';
import { assertWithinBudget, type BudgetCheckDeps } from './usage-accounting.js';

export interface TurnAdmissionDeps extends BudgetCheckDeps {
  /** The queue's limits (OCPM_MAX_CONCURRENT_TURNS…), for its scheduler. */
  readonly queue: SchedulerSettings;
  /** The refusal and rejection counters, and (whole) for its scheduler. */
  readonly metrics: Pick<Metrics, 'messagesRefused' | 'rejected' | 'queueWait'>;
  readonly lifecycle: Pick<Lifecycle, 'state' | 'assertReady' | 'accept'>;
  /** Why no message can be answered now (a broken opencode config, no provider); undefined when none. */
  readonly configurationProblem: () => NotReady | undefined;
  /** With a session disk limit: each workspace's size between turns. */
  readonly diskGuard: Pick<DiskGuard, 'assertWithin' | 'refresh'> | undefined;
  /** Counts a message that was accepted but never ran (aborted or timed out while waiting). */
  readonly countUnrun: (outcome: TurnOutcome, acceptedAt: number) => void;
}

/** Runs a check that refuses a message before it is a turn, counting a refusal by its code. */
export function countRefusal(deps: { readonly metrics: Pick<Metrics, 'messagesRefused'> }, check: () => void): void {
  try {
    check();
  } catch (error) {
    if (error instanceof OcpmError) deps.metrics.messagesRefused.inc({ code: error.code });
    throw error;
  }
}

interface RunningTurn {
  readonly controller: AbortController;
  readonly done: Promise<unknown>;
}

export class TurnAdmission {
  readonly scheduler: TurnScheduler;
  private readonly running = new Map<string, RunningTurn>();
  private readonly accepted = new Map<string, Set<AbortController>>();

  constructor(private readonly deps: TurnAdmissionDeps) {
    this.scheduler = new TurnScheduler(deps.queue, deps.metrics);
  }

  /** Whether the session runs a turn now. */
  isBusy(sessionId: string): boolean {
    return this.running.has(sessionId);
  }

  /** Whether messages of the session wait in the queue for their turn. */
  isQueued(sessionId: string): boolean {
    return this.scheduler.waitingFor(sessionId) > 0;
  }

  /** Throws what admit() would throw before queueing (not ready, draining, over budget, queue full). */
  assertCanAccept(sessionId: string): void {
    countRefusal(this.deps, () => {
      const { lifecycle, metrics } = this.deps;
      if (lifecycle.state === 'draining') metrics.rejected.inc({ reason: 'draining' });
      lifecycle.assertReady();
      // A message the service cannot answer is refused before it is a turn (and before any opencode starts).
      const problem = this.deps.configurationProblem();
      if (problem !== undefined) throw new OcpmError(problem.code, problem.message);
      this.assertWithinBudget(sessionId);
      this.scheduler.assertCanQueue(sessionId);
    });
  }

  private assertWithinBudget(sessionId: string): void {
    try {
      assertWithinBudget(this.deps, sessionId);
    } catch (error) {
      this.deps.metrics.rejected.inc({ reason: 'budget_exceeded' });
      throw error;
    }
    try {
      this.deps.diskGuard?.assertWithin(sessionId);
    } catch (error) {
      this.deps.metrics.rejected.inc({ reason: 'resource_limit' });
      throw error;
    }
  }

  /** A session over the disk limit is measured again before its message is judged. */
  async refreshDisk(sessionId: string): Promise<void> {
    const workspace = this.deps.sessions.get(sessionId)?.workspace;
    if (workspace !== undefined) await this.deps.diskGuard?.refresh(sessionId, workspace);
  }

  /** Waits for the session's turn, then runs `turn` with a signal that every abort path reaches. */
  async admit<T>(sessionId: string, callerSignal: AbortSignal | undefined, turn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    await this.refreshDisk(sessionId);
    this.assertCanAccept(sessionId);
    const controller = new AbortController();
    const onCallerAbort = (): void => controller.abort(callerSignal?.reason);
    callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
    if (callerSignal?.aborted === true) onCallerAbort();
    const controllers = this.accepted.get(sessionId) ?? new Set<AbortController>();
    controllers.add(controller);
    this.accepted.set(sessionId, controllers);
    const leave = this.deps.lifecycle.accept();
    const acceptedAt = Date.now();
    try {
      let release: () => void;
      try {
        release = await this.scheduler.acquire(sessionId, controller.signal);
      } catch (error) {
        if (!(error instanceof QueueRejectedError) && error instanceof OcpmError) {
          this.deps.countUnrun(error.code === 'queue_timeout' ? 'timeout' : 'aborted', acceptedAt);
        }
        throw error;
      }
      try {
        // A message queued behind the turn that crossed a budget (or filled the disk) does not run either.
        await this.refreshDisk(sessionId);
        this.assertWithinBudget(sessionId);
      } catch (error) {
        release();
        throw error;
      }
      const done = turn(controller.signal);
      this.running.set(sessionId, { controller, done });
      try {
        return await done;
      } finally {
        release();
        if (this.running.get(sessionId)?.done === done) this.running.delete(sessionId);
      }
    } finally {
      callerSignal?.removeEventListener('abort', onCallerAbort);
      controllers.delete(controller);
      if (controllers.size === 0 && this.accepted.get(sessionId) === controllers) this.accepted.delete(sessionId);
      leave();
    }
  }

  /** Aborts the session's running turn; false when it runs none. */
  abortTurn(sessionId: string, reason: string): boolean {
    const turn = this.running.get(sessionId);
    if (turn === undefined) return false;
    turn.controller.abort(new Error(reason));
    return true;
  }

  /** Aborts the session's waiting messages and running turn, and waits for the turn to end. */
  async abortSession(sessionId: string, reason: string): Promise<void> {
    for (const controller of this.accepted.get(sessionId) ?? []) controller.abort(new Error(reason));
    const turn = this.running.get(sessionId);
    if (turn === undefined) return;
    turn.controller.abort(new Error(reason));
    await turn.done.catch(() => undefined);
  }

  /** Aborts every accepted message; resolves when the running turns have ended. */
  async abortAll(reason: string): Promise<void> {
    const turns = [...this.running.values()];
    for (const controllers of this.accepted.values()) {
      for (const controller of controllers) controller.abort(new Error(reason));
    }
    await Promise.allSettled(turns.map((turn) => turn.done));
  }
}
