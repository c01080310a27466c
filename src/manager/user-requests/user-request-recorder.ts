// Where the broker reports how each request ended and how long people took. Declared here so the
// broker depends on these three facts only; the metrics module provides the implementation.
import type { PermissionLabel, PermissionOutcome, QuestionOutcome } from './user-request.js';

export interface UserRequestRecorder {
  /** A permission request ended: a person's reply, the timeout, an abort, or the policy's own answer. */
  permissionSettled(permission: PermissionLabel, outcome: PermissionOutcome): void;
  questionSettled(outcome: QuestionOutcome): void;
  /** How long a forwarded request waited for its answer (or its timeout or abort). */
  waited(seconds: number): void;
}
