// Permission requests and questions a turn put to a person: how they ended, how long people took,
// and how many sessions wait on someone now. The broker reports into them through the recorder at
// the end (it never sees prom-client).
import client from 'prom-client';
import {
  PERMISSION_KEYS,
  PERMISSION_OUTCOMES,
  QUESTION_OUTCOMES,
  type PermissionLabel,
  type PermissionOutcome,
  type QuestionOutcome,
} from '../contracts/vocabulary.js';
import { liveGauge, type MetricScope } from './metric-kit.js';

/** 0.5 s to 30 min: a person clicking at once to one who came back much later. */
export const USER_WAIT_BUCKETS = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

export function createUserRequestMetrics(scope: MetricScope) {
  const registers = [scope.registry];
  const permissionRequests = new client.Counter({
    name: 'opencode_manager_permission_requests_total',
    help: "opencode's permission requests, by permission (its known keys, else other) and outcome (once, always, reject, timeout, auto_allow, auto_deny, aborted).",
    labelNames: ['permission', 'outcome'] as const,
    registers,
  });
  const questionRequests = new client.Counter({
    name: 'opencode_manager_question_requests_total',
    help: "opencode's questions to the user, by outcome (answered, reject, timeout, auto_reject, aborted).",
    labelNames: ['outcome'] as const,
    registers,
  });
  const userWait = new client.Histogram({
    name: 'opencode_manager_user_wait_seconds',
    help: 'How long a permission request or question forwarded to the client waited for its answer (or its timeout or abort).',
    buckets: USER_WAIT_BUCKETS,
    registers,
  });
  liveGauge(scope, 'opencode_manager_sessions_waiting_on_user', 'Sessions whose turn waits on a person (a permission or question is pending).', (s) =>
    s.sessionsWaitingOnUser(),
  );
  liveGauge(scope, 'opencode_manager_user_wait_oldest_seconds', 'Age of the oldest pending permission request or question (0 when none is pending).', (s) =>
    s.oldestUserWaitSeconds(),
  );
  for (const outcome of PERMISSION_OUTCOMES) {
    for (const permission of [...PERMISSION_KEYS, 'other']) permissionRequests.inc({ permission, outcome }, 0);
  }
  for (const outcome of QUESTION_OUTCOMES) questionRequests.inc({ outcome }, 0);
  return { permissionRequests, questionRequests, userWait };
}

/** The user requests' recorder (UserRequestRecorder in src/manager/user-requests/) over these metrics. */
export function userRequestRecorder(metrics: ReturnType<typeof createUserRequestMetrics>) {
  return {
    permissionSettled: (permission: PermissionLabel, outcome: PermissionOutcome): void => metrics.permissionRequests.inc({ permission, outcome }),
    questionSettled: (outcome: QuestionOutcome): void => metrics.questionRequests.inc({ outcome }),
    waited: (seconds: number): void => metrics.userWait.observe(seconds),
  };
}
