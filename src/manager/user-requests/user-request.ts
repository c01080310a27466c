// What a person is asked during a turn (a permission or a question), as the web app sees it, and the
// fixed label sets its metrics use.

import { PERMISSION_KEYS, type PermissionLabel, type PermissionOutcome, type QuestionOutcome } from '../../contracts/vocabulary.js';

export {
  PERMISSION_KEYS,
  PERMISSION_OUTCOMES,
  PERMISSION_POLICIES,
  PERMISSION_REPLIES,
  QUESTION_OUTCOMES,
  type PermissionLabel,
  type PermissionOutcome,
  type PermissionPolicy,
  type PermissionReply,
  type QuestionOutcome,
} from '../../contracts/vocabulary.js';

export function permissionLabel(key: string): PermissionLabel {
  return (PERMISSION_KEYS as readonly string[]).includes(key) ? (key as PermissionLabel) : 'other';
}

/** A permission request, as the client sees it (`sessionId` is the service's session id). */
export interface PermissionRequestView {
  readonly id: string;
  readonly sessionId: string;
  readonly permission: string;
  readonly patterns: readonly string[];
  readonly metadata: Record<string, unknown>;
  /** ISO time at which an unanswered request is rejected. */
  readonly expiresAt: string;
}

/** A question and its choices, as opencode asks them (src/opencode-wire/requests.ts). */
export type { Question as QuestionItem, QuestionChoice as QuestionOption } from '../../opencode-wire/requests.js';
import type { Question as QuestionItem } from '../../opencode-wire/requests.js';

export interface QuestionRequestView {
  readonly id: string;
  readonly sessionId: string;
  readonly questions: readonly QuestionItem[];
  readonly expiresAt: string;
}

export interface PendingRequests {
  readonly permissions: readonly PermissionRequestView[];
  readonly questions: readonly QuestionRequestView[];
}

/** What a streaming client is told, in order, about the requests of its turn. */
export type UserRequestEvent =
  | { readonly type: 'permission'; readonly data: PermissionRequestView }
  | { readonly type: 'question'; readonly data: QuestionRequestView }
  | { readonly type: 'permission_resolved'; readonly data: { readonly id: string; readonly sessionId: string; readonly outcome: PermissionOutcome } }
  | { readonly type: 'question_resolved'; readonly data: { readonly id: string; readonly sessionId: string; readonly outcome: QuestionOutcome } };
