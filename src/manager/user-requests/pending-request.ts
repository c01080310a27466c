// A request forwarded to people and not yet settled, as the broker holds it, with the two parties it
// settles with: the responder that answers opencode and the turn that saw the request.
import type { LostPermission } from './lost-permissions.js';
import type { PermissionReply, PermissionRequestView, QuestionItem, QuestionRequestView, UserRequestEvent } from './user-request.js';

/** How a request is answered to opencode (by the turn that saw it). */
export interface PermissionResponder {
  reply(reply: PermissionReply, message?: string): Promise<void>;
}

export interface QuestionResponder {
  reply(answers: readonly (readonly string[])[]): Promise<void>;
  reject(): Promise<void>;
}

/** A permission and a question as opencode asked them (read from its events in src/opencode-wire/). */
export type { PermissionRequest as AskedPermission, QuestionRequest as AskedQuestion } from '../../opencode-wire/requests.js';

/** What the broker tells the turn that saw a request once the request is settled. */
export interface RequestingTurn {
  notify(event: UserRequestEvent): void;
  lose(permission: LostPermission): void;
  settled(requestId: string): void;
}

/** A request as its turn forwards it: what people see, and who answers opencode. */
export type ForwardedRequest =
  | { readonly kind: 'permission'; readonly view: PermissionRequestView; readonly responder: PermissionResponder }
  | { readonly kind: 'question'; readonly view: QuestionRequestView; readonly responder: QuestionResponder };

/** A forwarded request while it waits: since when, the timer that rejects it, and its turn. */
export type PendingRequest = ForwardedRequest & { readonly askedAt: number; readonly timer: NodeJS.Timeout; readonly turn: RequestingTurn };
export type PendingPermission = Extract<PendingRequest, { kind: 'permission' }>;
export type PendingQuestion = Extract<PendingRequest, { kind: 'question' }>;

/** The questions' headers (else their text): how a lost question is named in the turn's error. */
export function questionHeaders(asked: { readonly questions: readonly QuestionItem[] }): string[] {
  return asked.questions.map((q) => q.header || q.question);
}
