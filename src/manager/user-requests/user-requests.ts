// The permission requests and questions that turns put to people: who is waiting, on what, since
// when; the answers people give (once each), the timeout that rejects what nobody answered, and the
// policy that answers without asking. Each request is answered to opencode through the callback of the
// turn that saw it, so this module knows nothing about HTTP or opencode's routes.
import { OcpmError } from '../../errors/errors.js';
import type { Logger } from '../../logging/logger.js';
import type { Metrics } from '../../metrics/metrics.js';
import { errorMessage } from '../../util/guards.js';
import {
  permissionLabel,
  type PendingRequests,
  type PermissionOutcome,
  type PermissionPolicy,
  type PermissionReply,
  type PermissionRequestView,
  type QuestionItem,
  type QuestionOutcome,
  type QuestionRequestView,
  type UserRequestEvent,
} from './user-request.js';

/** What opencode is told when a request was rejected because nobody answered it in time. */
export function timeoutMessage(timeoutMs: number): string {
  return `The user did not answer this request within ${Math.round(timeoutMs / 1000)} s, so it was rejected. Do not ask again in this turn; carry on without it, or tell the user what you needed.`;
}

const POLICY_DENY_MESSAGE = 'The service is configured to reject every permission request (OCPM_PERMISSION_POLICY=deny); carry on without it.';

/** How a request is answered to opencode (by the turn that saw it). */
export interface PermissionResponder {
  reply(reply: PermissionReply, message?: string): Promise<void>;
}

export interface QuestionResponder {
  reply(answers: readonly (readonly string[])[]): Promise<void>;
  reject(): Promise<void>;
}

/** A permission as opencode asked it (the fields the client sees, before the service's session id). */
export interface AskedPermission {
  readonly id: string;
  readonly permission: string;
  readonly patterns: readonly string[];
  readonly metadata: Record<string, unknown>;
}

export interface AskedQuestion {
  readonly id: string;
  readonly questions: readonly QuestionItem[];
}

/** A permission the turn did not get: the turn's error says which one when it ends without an answer. */
export interface LostPermission {
  readonly permission: string;
  readonly patterns: readonly string[];
  readonly outcome: PermissionOutcome;
  /** Why, when the outcome alone does not say it. */
  readonly reason?: string;
}

type Pending =
  | { kind: 'permission'; view: PermissionRequestView; responder: PermissionResponder; askedAt: number; timer: NodeJS.Timeout; turn: TurnRequests }
  | { kind: 'question'; view: QuestionRequestView; responder: QuestionResponder; askedAt: number; timer: NodeJS.Timeout; turn: TurnRequests };

function questionHeaders(view: QuestionRequestView): string[] {
  return view.questions.map((q) => q.header || q.question);
}

/** How many answered request ids are remembered, so a second answer gets 409 rather than 404. */
const REMEMBERED_ANSWERS = 1000;

export interface TurnRequestOptions {
  readonly policy: PermissionPolicy;
  readonly timeoutMs: number;
  /** How a request is shown to people (host paths hidden); identity when left out. */
  readonly present?: <T>(value: T) => T;
  /** The turn's client, told about each forwarded request and its outcome, in order. */
  readonly notify?: (event: UserRequestEvent) => void;
}

export class UserRequests {
  private readonly pending = new Map<string, Pending>();
  private readonly answered = new Map<string, string>();

  constructor(
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {}

  /** The handle one turn of a session uses for the requests it sees. */
  forTurn(sessionId: string, options: TurnRequestOptions): TurnRequests {
    return new TurnRequests(this, sessionId, options);
  }

  list(sessionId: string): PendingRequests {
    const permissions: PermissionRequestView[] = [];
    const questions: QuestionRequestView[] = [];
    for (const entry of this.pending.values()) {
      if (entry.view.sessionId !== sessionId) continue;
      if (entry.kind === 'permission') permissions.push(entry.view);
      else questions.push(entry.view);
    }
    return { permissions, questions };
  }

  /** Every pending request of every session, oldest first (the operator console lists them all). */
  listAll(): PendingRequests {
    const permissions: PermissionRequestView[] = [];
    const questions: QuestionRequestView[] = [];
    for (const entry of this.pending.values()) {
      if (entry.kind === 'permission') permissions.push(entry.view);
      else questions.push(entry.view);
    }
    return { permissions, questions };
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

  /** @internal True when the request was already settled (a resync lists it again until opencode drops it). */
  wasSettled(requestId: string): boolean {
    return this.answered.has(requestId);
  }

  /** @internal Remembers a settled request (bounded), so it is neither answered nor forwarded twice. */
  remember(requestId: string, sessionId: string): void {
    this.answered.set(requestId, sessionId);
    if (this.answered.size > REMEMBERED_ANSWERS) this.answered.delete(this.answered.keys().next().value as string);
  }

  /** @internal TurnRequests registers a forwarded request. */
  open(entry: Pending): void {
    this.pending.set(entry.view.id, entry);
  }

  /** @internal Settles a pending request with an outcome the service chose (timeout, abort). */
  async settleBy(requestId: string, outcome: 'timeout' | 'aborted', timeoutMs: number): Promise<void> {
    const entry = this.pending.get(requestId);
    if (entry === undefined) return;
    const message = outcome === 'timeout' ? timeoutMessage(timeoutMs) : 'The turn was aborted.';
    if (entry.kind === 'permission') await this.settlePermission(entry, outcome, 'reject', message);
    // opencode's question reject takes no message and ends the turn: at the timeout the model gets the
    // explanation as a typed answer instead, so the turn goes on.
    else await this.settleQuestion(entry, outcome, outcome === 'timeout' ? entry.view.questions.map(() => [message]) : undefined);
  }

  /** @internal opencode settled the request itself (for example when the session was aborted). */
  forget(requestId: string, outcome: 'aborted'): void {
    const entry = this.pending.get(requestId);
    if (entry !== undefined) this.finish(entry, outcome);
  }

  /** @internal Counts a request the policy answered without asking anyone. */
  countAutomatic(kind: 'permission' | 'question', permission: string, outcome: 'auto_allow' | 'auto_deny' | 'auto_reject'): void {
    if (kind === 'permission') this.metrics.permissionRequests.inc({ permission: permissionLabel(permission), outcome });
    else this.metrics.questionRequests.inc({ outcome });
  }

  private take(sessionId: string, requestId: string, kind: Pending['kind']): Pending {
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

  private async settlePermission(
    entry: Extract<Pending, { kind: 'permission' }>,
    outcome: PermissionOutcome,
    reply: PermissionReply,
    message?: string,
  ): Promise<void> {
    this.finish(entry, outcome);
    if (reply === 'reject') entry.turn.lose({ permission: entry.view.permission, patterns: entry.view.patterns, outcome });
    await this.tell(entry, () => entry.responder.reply(reply, message));
  }

  private async settleQuestion(
    entry: Extract<Pending, { kind: 'question' }>,
    outcome: QuestionOutcome,
    answers: readonly (readonly string[])[] | undefined,
  ): Promise<void> {
    this.finish(entry, outcome);
    if (answers === undefined)
      entry.turn.lose({ permission: 'question', patterns: questionHeaders(entry.view), outcome: outcome === 'aborted' ? 'aborted' : 'reject' });
    await this.tell(entry, () => (answers === undefined ? entry.responder.reject() : entry.responder.reply(answers)));
  }

  /** Records the outcome: metrics, the answered set, the turn's client and its waiting state. */
  private finish(entry: Pending, outcome: PermissionOutcome | QuestionOutcome): void {
    clearTimeout(entry.timer);
    this.pending.delete(entry.view.id);
    this.remember(entry.view.id, entry.view.sessionId);
    this.metrics.userWait.observe((Date.now() - entry.askedAt) / 1000);
    if (entry.kind === 'permission') {
      this.metrics.permissionRequests.inc({ permission: permissionLabel(entry.view.permission), outcome });
      entry.turn.notify({ type: 'permission_resolved', data: { id: entry.view.id, sessionId: entry.view.sessionId, outcome: outcome as PermissionOutcome } });
    } else {
      this.metrics.questionRequests.inc({ outcome: outcome });
      entry.turn.notify({ type: 'question_resolved', data: { id: entry.view.id, sessionId: entry.view.sessionId, outcome: outcome as QuestionOutcome } });
    }
    entry.turn.settled(entry.view.id);
  }

  /** Tells opencode; a request opencode no longer has (its turn ended) is not the caller's error. */
  private async tell(entry: Pending, call: () => Promise<void>): Promise<void> {
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

/** The requests of one running turn: forwards or auto-answers them, and knows whether it waits on a person. */
export class TurnRequests {
  private readonly open = new Set<string>();
  private readonly lost: LostPermission[] = [];
  private waitingListener: ((waiting: boolean) => void) | undefined;

  constructor(
    private readonly broker: UserRequests,
    readonly sessionId: string,
    private readonly options: TurnRequestOptions,
  ) {}

  get policy(): PermissionPolicy {
    return this.options.policy;
  }

  /** True while at least one request of this turn waits on a person (a stall timer pauses then). */
  get waiting(): boolean {
    return this.open.size > 0;
  }

  /** Permissions this turn asked for and did not get. */
  get lostPermissions(): readonly LostPermission[] {
    return this.lost;
  }

  onWaitingChange(listener: (waiting: boolean) => void): void {
    this.waitingListener = listener;
  }

  permissionAsked(asked: AskedPermission, responder: PermissionResponder): void {
    if (this.open.has(asked.id) || this.broker.wasSettled(asked.id)) return;
    const { policy } = this.options;
    if (policy !== 'ask') {
      const outcome = policy === 'allow' ? 'auto_allow' : 'auto_deny';
      this.broker.remember(asked.id, this.sessionId);
      this.broker.countAutomatic('permission', asked.permission, outcome);
      if (policy === 'deny') this.lose({ permission: asked.permission, patterns: asked.patterns, outcome });
      void responder.reply(policy === 'allow' ? 'once' : 'reject', policy === 'deny' ? POLICY_DENY_MESSAGE : undefined).catch(() => undefined);
      return;
    }
    const shown = this.options.present?.(asked) ?? asked;
    const view: PermissionRequestView = { ...shown, id: asked.id, sessionId: this.sessionId, expiresAt: this.expiresAt() };
    this.track(asked.id);
    this.broker.open({ kind: 'permission', view, responder, askedAt: Date.now(), timer: this.timeout(asked.id), turn: this });
    this.notify({ type: 'permission', data: view });
  }

  questionAsked(asked: AskedQuestion, responder: QuestionResponder): void {
    if (this.open.has(asked.id) || this.broker.wasSettled(asked.id)) return;
    if (this.options.policy !== 'ask') {
      this.broker.remember(asked.id, this.sessionId);
      this.broker.countAutomatic('question', 'question', 'auto_reject');
      this.lose({
        permission: 'question',
        patterns: asked.questions.map((q) => q.header || q.question),
        outcome: 'auto_deny',
        reason: 'rejected: nobody can answer under OCPM_PERMISSION_POLICY=' + this.options.policy,
      });
      void responder.reject().catch(() => undefined);
      return;
    }
    const shown = this.options.present?.(asked) ?? asked;
    const view: QuestionRequestView = { ...shown, id: asked.id, sessionId: this.sessionId, expiresAt: this.expiresAt() };
    this.track(asked.id);
    this.broker.open({ kind: 'question', view, responder, askedAt: Date.now(), timer: this.timeout(asked.id), turn: this });
    this.notify({ type: 'question', data: view });
  }

  /**
   * A permission `opencode run` rejected by itself (per-message mode cannot forward a request): counted
   * as the policy's denial, and remembered for the turn's error.
   */
  rejectedByRun(permission: string, patterns: readonly string[]): void {
    this.broker.countAutomatic('permission', permission, 'auto_deny');
    const reason =
      this.options.policy === 'allow'
        ? 'rejected by opencode run (a deny rule in its config)'
        : `rejected by opencode run: per-message mode cannot ask anyone, so OCPM_PERMISSION_POLICY=${this.options.policy} denies it`;
    this.lose({ permission, patterns, outcome: 'auto_deny', reason });
  }

  /** opencode answered or dropped the request itself (an abort, another client). */
  settledByOpencode(requestId: string): void {
    this.broker.forget(requestId, 'aborted');
  }

  /** Rejects every request of this turn that still waits (the turn is being aborted or ended). */
  async rejectAll(): Promise<void> {
    await Promise.all([...this.open].map((id) => this.broker.settleBy(id, 'aborted', this.options.timeoutMs)));
  }

  /** @internal */
  notify(event: UserRequestEvent): void {
    try {
      this.options.notify?.(event);
    } catch {
      // A client that went away must not break the answer path.
    }
  }

  /** @internal */
  lose(permission: LostPermission): void {
    this.lost.push(permission);
  }

  /** @internal */
  settled(requestId: string): void {
    if (!this.open.delete(requestId)) return;
    if (this.open.size === 0) this.waitingListener?.(false);
  }

  private track(requestId: string): void {
    this.open.add(requestId);
    if (this.open.size === 1) this.waitingListener?.(true);
  }

  private timeout(requestId: string): NodeJS.Timeout {
    const timer = setTimeout(() => void this.broker.settleBy(requestId, 'timeout', this.options.timeoutMs), this.options.timeoutMs);
    timer.unref();
    return timer;
  }

  private expiresAt(): string {
    return new Date(Date.now() + this.options.timeoutMs).toISOString();
  }
}

const LOST_BECAUSE: Record<PermissionOutcome, string> = {
  once: 'approved',
  always: 'approved',
  reject: 'rejected by the user',
  timeout: 'not answered in time',
  auto_allow: 'approved by the policy',
  auto_deny: 'rejected by OCPM_PERMISSION_POLICY',
  aborted: 'dropped when the turn ended',
};

/** The error of a turn that ended without an answer after a permission it needed was not given. */
export function lostPermissionError(lost: readonly LostPermission[]): OcpmError {
  const list = lost
    .map((p) => `"${p.permission}"${p.patterns.length > 0 ? ` (${p.patterns.join(', ')})` : ''} ${p.reason ?? LOST_BECAUSE[p.outcome]}`)
    .join('; ');
  return new OcpmError('permission_denied', `The turn ended without an answer: opencode needed a permission it did not get: ${list}`);
}
