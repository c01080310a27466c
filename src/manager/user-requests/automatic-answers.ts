// What the service answers by itself when no person does: the policy's answer when nobody is to be
// asked (OCPM_PERMISSION_POLICY=allow|deny), the rejection at the timeout or abort, and the reasons
// the turn's error gives for what it lost that way.
import type { PermissionPolicy, PermissionReply } from './user-request.js';

/** What opencode is told when a request was rejected because nobody answered it in time. */
export function timeoutMessage(timeoutMs: number): string {
  return `The user did not answer this request within ${Math.round(timeoutMs / 1000)} s, so it was rejected. Do not ask again in this turn; carry on without it, or tell the user what you needed.`;
}

/** What opencode is told of a request whose turn was aborted before anyone answered. */
export const ABORTED_MESSAGE = 'The turn was aborted.';

const POLICY_DENY_MESSAGE = 'The service is configured to reject every permission request (OCPM_PERMISSION_POLICY=deny); carry on without it.';

/** How a policy that asks nobody answers a permission request. */
export interface PolicyAnswer {
  readonly outcome: 'auto_allow' | 'auto_deny';
  readonly reply: PermissionReply;
  readonly message: string | undefined;
}

export function permissionPolicyAnswer(policy: Exclude<PermissionPolicy, 'ask'>): PolicyAnswer {
  return policy === 'allow'
    ? { outcome: 'auto_allow', reply: 'once', message: undefined }
    : { outcome: 'auto_deny', reply: 'reject', message: POLICY_DENY_MESSAGE };
}

/** Why a question was rejected without asking: under a policy other than `ask` nobody can answer it. */
export function unanswerableQuestionReason(policy: PermissionPolicy): string {
  return 'rejected: nobody can answer under OCPM_PERMISSION_POLICY=' + policy;
}

/** Why `opencode run` rejected a permission by itself (per-message mode cannot forward a request). */
export function rejectedByRunReason(policy: PermissionPolicy): string {
  return policy === 'allow'
    ? 'rejected by opencode run (a deny rule in its config)'
    : `rejected by opencode run: per-message mode cannot ask anyone, so OCPM_PERMISSION_POLICY=${policy} denies it`;
}
