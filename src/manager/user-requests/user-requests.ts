// The permission requests and questions that turns put to people: who is waiting, on what, since
// when; the answers people give (once each), and the rejection at the timeout or abort. Each request
// is answered to opencode through the callback of the turn that saw it, so this module knows nothing
// about HTTP or opencode's routes. The turn's side (the policy, forwarding) is turn-requests.ts.
import { OcpmError } from '../../errors/errors.js';
import type { Logger } from '../../logging/logger.js';
import { errorMessage } from '../../util/guards.js';
import { ABORTED_MESSAGE, timeoutMessage } from './automatic-answers.js';
import { questionHeaders, type PendingPermission, type PendingQuestion, type PendingRequest } from './pending-request.js';
import { TurnRequests, type RequestBroker, type TurnRequestOptions } from './turn-requests.js';
import {
  permissionLabel,
  type PendingRequests,
  type PermissionOutcome,
  type PermissionReply,
  type PermissionRequestView,
  type QuestionOutcome,
  type QuestionRequestView,
} from './user-request.js';
import type { UserRequestRecorder } from './user-request-recorder.js';

export { timeoutMessage } from './automatic-answers.js';
export { lostPermissionError, type LostPermission } from './lost-permissions.js';
export type { AskedPermission, AskedQuestion, PermissionResponder, QuestionResponder } from './pending-request.js';
export { TurnRequests, type TurnRequestOptions } from './turn-requests.js';
export type { UserRequestRecorder } from './user-request-recorder.js';

/** How many answered request ids are remembered, so a second answer gets 409 rather than 404. */
const REMEMBERED_ANSWERS = 1000;

export class UserRequests implements RequestBroker {
  private readonly pending = new Map<string, PendingRequest>();
  private readonly answered = new Map<string, string>();

  constructor(
    private readonly recorder: UserRequestRecorder,
    private readonly logger: Logger,
  ) {}

  /** The handle one turn of a session uses for the requests it sees. */
  forTurn(sessionId: string, options: TurnRequestOptions): TurnRequests {
    return new TurnRequests(this, sessionId, options);
  }

  list(sessionId: string): PendingRequests {
    return this.collect((entry) => entry.view.sessionId === sessionId);
  }

  /** Every pending request of every session, oldest first (the operator console lists them all). */
  listAll(): PendingRequests {
    return this.collect(() => true);
  }

  countFor(sessionId: string): number {
    let count = 0;
    for (const entry of this.pending.values()) if (entry.view.sessionId === sessionId) count += 1;
    return count;
  }

  sessionsWaiting(): number {
    return new Set([...this.pending.values()].map((entry) => entry.view.sessionId)).size;
  }

  oldestWaitSeconds(now = Date.now()): number {
    let oldest = now;
    for (const entry of this.pending.values()) oldest = Math.min(oldest, entry.askedAt);
    return (now - oldest) / 1000;
  }

  /** A person's reply to a permission request: 404 when unknown, 409 when already answered. */
  async answerPermission(sessionId: string, requestId: string, reply: PermissionReply, message?: string): Promise<void> {
    const entry = this.take(sessionId, requestId, 'permission');
    if (entry.kind !== 'permission') throw new Error('unreachable');
    await this.settlePermission(entry, reply, reply, reply === 'reject' ? message : undefined);
  }

  /** A person's answers to a question, or its rejection. */
  async answerQuestion(sessionId: string, requestId: string, answer: { answers: readonly (readonly string[])[] } | { reject: true }): Promise<void> {
    const entry = this.take(sessionId, requestId, 'question');
    if (entry.kind !== 'question') throw new Error('unreachable');
    await this.settleQuestion(entry, 'answers' in answer ? 'answered' : 'reject', 'answers' in answer ? answer.answers : undefined);
  }

  /** Rejects every pending request of the session (outcome `aborted`), telling opencode each time. */
  async rejectAll(sessionId: string): Promise<void> {
    const ids = [...this.pending.values()].filter((entry) => entry.view.sessionId === sessionId).map((entry) => entry.view.id);
    await Promise.all(ids.map((id) => this.settleBy(id, 'aborted', 0)));
  }

  /** @internal */
  wasSettled(requestId: string): boolean {
    return this.answered.has(requestId);
  }

  /** @internal Bounded: the oldest answers are forgotten first. */
  remember(requestId: string, sessionId: string): void {
    this.answered.set(requestId, sessionId);
    if (this.answered.size > REMEMBERED_ANSWERS) this.answered.delete(this.answered.keys().next().value as string);
  }

  /** @internal */
  open(entry: PendingRequest): void {
    this.pending.set(entry.view.id, entry);
  }

  /** @internal */
  async settleBy(requestId: string, outcome: 'timeout' | 'aborted', timeoutMs: number): Promise<void> {
    const entry = this.pending.get(requestId);
    if (entry === undefined) return;
    const message = outcome === 'timeout' ? timeoutMessage(timeoutMs) : ABORTED_MESSAGE;
    if (entry.kind === 'permission') await this.settlePermission(entry, outcome, 'reject', message);
    // opencode's question reject takes no message and ends the turn: at the timeout the model gets the
    // explanation as a typed answer instead, so the turn goes on.
    else await this.settleQuestion(entry, outcome, outcome === 'timeout' ? entry.view.questions.map(() => [message]) : undefined);
  }

  /** @internal */
  forget(requestId: string, outcome: 'aborted'): void {
    const entry = this.pending.get(requestId);
    if (entry !== undefined) this.finish(entry, outcome);
  }

  /** @internal */
  countAutomaticPermission(permission: string, outcome: 'auto_allow' | 'auto_deny'): void {
    this.recorder.permissionSettled(permissionLabel(permission), outcome);
  }

  /** @internal */
  countAutomaticQuestion(): void {
    this.recorder.questionSettled('auto_reject');
  }

  private collect(include: (entry: PendingRequest) => boolean): PendingRequests {
    const permissions: PermissionRequestView[] = [];
    const questions: QuestionRequestView[] = [];
    for (const entry of this.pending.values()) {
      if (!include(entry)) continue;
      if (entry.kind === 'permission') permissions.push(entry.view);
      else questions.push(entry.view);
    }
    return { permissions, questions };
  }

  private take(sessionId: string, requestId: string, kind: PendingRequest['kind']): PendingRequest {
    const entry = this.pending.get(requestId);
    if (entry === undefined || entry.view.sessionId !== sessionId || entry.kind !== kind) {
      if (this.answered.get(requestId) === sessionId) {
        throw new OcpmError('request_already_answered', `The ${kind} request ${requestId} was already answered`);
      }
      throw new OcpmError('request_not_found', `Session ${sessionId} has no pending ${kind} request ${requestId}`);
    }
    // Taken before opencode is told, so a second answer racing this one gets 409.
    this.pending.delete(requestId);
    return entry;
  }

  private async settlePermission(entry: PendingPermission, outcome: PermissionOutcome, reply: PermissionReply, message?: string): Promise<void> {
    this.finish(entry, outcome);
    if (reply === 'reject') entry.turn.lose({ permission: entry.view.permission, patterns: entry.view.patterns, outcome });
    await this.tell(entry, () => entry.responder.reply(reply, message));
  }

  private async settleQuestion(entry: PendingQuestion, outcome: QuestionOutcome, answers: readonly (readonly string[])[] | undefined): Promise<void> {
    this.finish(entry, outcome);
    if (answers === undefined)
      entry.turn.lose({ permission: 'question', patterns: questionHeaders(entry.view), outcome: outcome === 'aborted' ? 'aborted' : 'reject' });
    await this.tell(entry, () => (answers === undefined ? entry.responder.reject() : entry.responder.reply(answers)));
  }

  /** Records the outcome: the recorder, the answered set, the turn's client and its waiting state. */
  private finish(entry: PendingRequest, outcome: PermissionOutcome | QuestionOutcome): void {
    clearTimeout(entry.timer);
    this.pending.delete(entry.view.id);
    this.remember(entry.view.id, entry.view.sessionId);
    this.recorder.waited((Date.now() - entry.askedAt) / 1000);
    const { id, sessionId } = entry.view;
    if (entry.kind === 'permission') {
      const settled = outcome as PermissionOutcome;
      this.recorder.permissionSettled(permissionLabel(entry.view.permission), settled);
      entry.turn.notify({ type: 'permission_resolved', data: { id, sessionId, outcome: settled } });
    } else {
      const settled = outcome as QuestionOutcome;
      this.recorder.questionSettled(settled);
      entry.turn.notify({ type: 'question_resolved', data: { id, sessionId, outcome: settled } });
    }
    entry.turn.settled(id);
  }

  /** Tells opencode; a request opencode no longer has (its turn ended) is not the caller's error. */
  private async tell(entry: PendingRequest, call: () => Promise<void>): Promise<void> {
    try {
      await call();
    } catch (error) {
      this.logger.warn('opencode did not take the answer to a request', {
        sessionId: entry.view.sessionId,
        kind: entry.kind,
        error: errorMessage(error),
      });
    }
  }
}
