// The permissions a turn asked for and did not get, kept so that a turn that ends without an answer
// can say which permission it lacked and why, instead of ending silently.
import { OcpmError } from '../../errors/errors.js';
import type { PermissionOutcome } from './user-request.js';

/** A permission the turn did not get: the turn's error says which one when it ends without an answer. */
export interface LostPermission {
  readonly permission: string;
  readonly patterns: readonly string[];
  readonly outcome: PermissionOutcome;
  /** Why, when the outcome alone does not say it. */
  readonly reason?: string;
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
