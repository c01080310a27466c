// The requests of one running turn: the policy answers those nobody is to be asked, the others are
// forwarded to people through the broker; the turn knows whether it waits on a person (its stall
// timer pauses then) and which permissions it did not get (its error names them).
import { permissionPolicyAnswer, rejectedByRunReason, unanswerableQuestionReason } from './automatic-answers.js';
import type { LostPermission } from './lost-permissions.js';
import {
  questionHeaders,
  type AskedPermission,
  type AskedQuestion,
  type ForwardedRequest,
  type PendingRequest,
  type PermissionResponder,
  type QuestionResponder,
} from './pending-request.js';
import type { PermissionPolicy, UserRequestEvent } from './user-request.js';

export interface TurnRequestOptions {
  readonly policy: PermissionPolicy;
  readonly timeoutMs: number;
  /** How a request is shown to people (host paths hidden); identity when left out. */
  readonly present?: <T>(value: T) => T;
  /** The turn's client, told about each forwarded request and its outcome, in order. */
  readonly notify?: (event: UserRequestEvent) => void;
}

/** What a turn needs of the broker that holds the waiting requests of every session. */
export interface RequestBroker {
  /** True when the request was already settled (a resync lists it again until opencode drops it). */
  wasSettled(requestId: string): boolean;
  /** Remembers a settled request, so it is neither answered nor forwarded twice. */
  remember(requestId: string, sessionId: string): void;
  open(entry: PendingRequest): void;
  /** Settles a waiting request with an outcome the service chose. */
  settleBy(requestId: string, outcome: 'timeout' | 'aborted', timeoutMs: number): Promise<void>;
  /** opencode settled the request itself. */
  forget(requestId: string, outcome: 'aborted'): void;
  /** Counts a permission answered without asking anyone (the policy, or `opencode run` itself). */
  countAutomaticPermission(permission: string, outcome: 'auto_allow' | 'auto_deny'): void;
  /** Counts a question the policy rejected without asking anyone. */
  countAutomaticQuestion(): void;
}

export class TurnRequests {
  private readonly open = new Set<string>();
  private readonly lost: LostPermission[] = [];
  private waitingListener: ((waiting: boolean) => void) | undefined;

  constructor(
    private readonly broker: RequestBroker,
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
      const answer = permissionPolicyAnswer(policy);
      this.broker.remember(asked.id, this.sessionId);
      this.broker.countAutomaticPermission(asked.permission, answer.outcome);
      if (policy === 'deny') this.lose({ permission: asked.permission, patterns: asked.patterns, outcome: answer.outcome });
      void responder.reply(answer.reply, answer.message).catch(() => undefined);
      return;
    }
    this.forward({ kind: 'permission', view: this.viewOf(asked), responder });
  }

  questionAsked(asked: AskedQuestion, responder: QuestionResponder): void {
    if (this.open.has(asked.id) || this.broker.wasSettled(asked.id)) return;
    if (this.options.policy !== 'ask') {
      this.broker.remember(asked.id, this.sessionId);
      this.broker.countAutomaticQuestion();
      this.lose({ permission: 'question', patterns: questionHeaders(asked), outcome: 'auto_deny', reason: unanswerableQuestionReason(this.options.policy) });
      void responder.reject().catch(() => undefined);
      return;
    }
    this.forward({ kind: 'question', view: this.viewOf(asked), responder });
  }

  /**
   * A permission `opencode run` rejected by itself (per-message mode cannot forward a request): counted
   * as the policy's denial, and remembered for the turn's error.
   */
  rejectedByRun(permission: string, patterns: readonly string[]): void {
    this.broker.countAutomaticPermission(permission, 'auto_deny');
    this.lose({ permission, patterns, outcome: 'auto_deny', reason: rejectedByRunReason(this.options.policy) });
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

  /** The request as people see it (host paths hidden), under the service's session id, with its deadline. */
  private viewOf<T extends { readonly id: string }>(asked: T): T & { readonly sessionId: string; readonly expiresAt: string } {
    const shown = this.options.present?.(asked) ?? asked;
    return { ...shown, id: asked.id, sessionId: this.sessionId, expiresAt: new Date(Date.now() + this.options.timeoutMs).toISOString() };
  }

  /** Hands the request to the broker to wait on a person, and tells the turn's client about it. */
  private forward(request: ForwardedRequest): void {
    const requestId = request.view.id;
    this.open.add(requestId);
    if (this.open.size === 1) this.waitingListener?.(true);
    const entry: PendingRequest = { ...request, askedAt: Date.now(), timer: this.timeout(requestId), turn: this };
    this.broker.open(entry);
    this.notify(entry.kind === 'permission' ? { type: 'permission', data: entry.view } : { type: 'question', data: entry.view });
  }

  private timeout(requestId: string): NodeJS.Timeout {
    const timer = setTimeout(() => void this.broker.settleBy(requestId, 'timeout', this.options.timeoutMs), this.options.timeoutMs);
    timer.unref();
    return timer;
  }
}
