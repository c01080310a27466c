// What a person is asked during a turn (a permission or a question), as the web app sees it, and the
// fixed label sets its metrics use.

/** How the service answers opencode's permission requests: forward them, or answer them itself. */
export const PERMISSION_POLICIES = ['ask', 'allow', 'deny'] as const;
export type PermissionPolicy = (typeof PERMISSION_POLICIES)[number];

/** opencode 1.18.33's permission keys; any other key is counted as `other`. */
export const PERMISSION_KEYS = [
  'read',
  'edit',
  'glob',
  'grep',
  'list',
  'bash',
  'task',
  'webfetch',
  'websearch',
  'external_directory',
  'doom_loop',
  'todowrite',
  'question',
  'lsp',
  'skill',
] as const;
export type PermissionLabel = (typeof PERMISSION_KEYS)[number] | 'other';

/** How a permission request ended: a person's reply, the timeout, the policy, or the turn's abort. */
export const PERMISSION_OUTCOMES = ['once', 'always', 'reject', 'timeout', 'auto_allow', 'auto_deny', 'aborted'] as const;
export type PermissionOutcome = (typeof PERMISSION_OUTCOMES)[number];

/** How a question ended: answered, rejected by the person, the timeout, the policy, or the turn's abort. */
export const QUESTION_OUTCOMES = ['answered', 'reject', 'timeout', 'auto_reject', 'aborted'] as const;
export type QuestionOutcome = (typeof QUESTION_OUTCOMES)[number];

export const PERMISSION_REPLIES = ['once', 'always', 'reject'] as const;
export type PermissionReply = (typeof PERMISSION_REPLIES)[number];

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

export interface QuestionOption {
  readonly label: string;
  readonly description: string;
}

export interface QuestionItem {
  readonly question: string;
  readonly header: string;
  readonly options: readonly QuestionOption[];
  readonly multiple: boolean;
  readonly custom: boolean;
}

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
