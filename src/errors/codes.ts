// Every error code the service can answer with, its HTTP status and what it means. docs/api.md's
// error table is checked against this list by a test, so a new code cannot go undocumented.
export const ERROR_CODES = {
  invalid_request: { status: 400, description: 'A body, parameter or query failed validation.' },
  invalid_json: { status: 400, description: 'The request body is not valid JSON.' },
  invalid_workspace: { status: 400, description: 'The workspace is missing, outside OCPM_WORKSPACE_ROOT, or not a directory.' },
  unauthorized: { status: 401, description: 'A missing or wrong bearer token (`WWW-Authenticate: Bearer`).' },
  not_found: { status: 404, description: 'No such route.' },
  session_not_found: { status: 404, description: 'No session with this id is registered.' },
  session_busy: { status: 409, description: 'The session is running a turn, so its workspace cannot change now.' },
  workspace_in_use: { status: 409, description: 'Another session uses this workspace (or one inside or around it); see OCPM_ALLOW_SHARED_WORKSPACES.' },
  request_not_found: { status: 404, description: 'No pending permission request or question with this id in this session.' },
  request_already_answered: {
    status: 409,
    description: 'The permission request or question was already answered (by a person, the timeout, the policy or an abort).',
  },
  instance_not_found: { status: 404, description: 'No server instance with this id (the ids are `processManager.instances[].id` of the status).' },
  instance_idle: { status: 409, description: "An isolated pool's slot that serves no session has no process to restart." },
  not_server_mode: {
    status: 409,
    description: 'The manager runs no server pool (per-message mode, or opencode without `serve`), so there is no instance to restart.',
  },
  session_idle: { status: 409, description: 'Abort was asked for a session that runs no turn.' },
  aborted: { status: 409, description: 'The turn was aborted (abort call, session deleted, client gone or shutdown), or the message before it started.' },
  invalid_model: { status: 400, description: "opencode does not know the message's `model` (`provider/model`); the message names opencode's reason." },
  invalid_agent: { status: 400, description: "opencode does not know the message's `agent`; the message names opencode's reason." },
  permission_denied: {
    status: 403,
    description: 'The turn needed a permission that was rejected (by the user, the timeout or OCPM_PERMISSION_POLICY) and ended without an answer.',
  },
  payload_too_large: { status: 413, description: 'The body is larger than OCPM_MAX_BODY_BYTES.' },
  session_queue_full: { status: 429, description: 'The session already has OCPM_SESSION_QUEUE_LIMIT messages waiting; retry after Retry-After seconds.' },
  queue_full: { status: 429, description: 'OCPM_QUEUE_LIMIT messages are waiting in all; retry after Retry-After seconds.' },
  rate_limited: { status: 429, description: 'More than OCPM_RATE_LIMIT_PER_MIN messages in a minute for this token; retry after Retry-After seconds.' },
  budget_exceeded: {
    status: 429,
    description:
      'The session is over OCPM_SESSION_TOKEN_BUDGET or OCPM_SESSION_COST_BUDGET_USD; the body carries `usage` and `budget`. `POST /api/sessions/:id/usage/reset` starts it over.',
  },
  resource_limit: {
    status: 429,
    description:
      "The session's workspace is over OCPM_SESSION_DISK_MB (measured after each turn); the message names the limit, the body carries `limit`, `usedBytes` and `limitBytes`. Free space in the workspace to continue.",
  },
  too_many_streams: { status: 429, description: 'This token already has OCPM_MAX_STREAMS_PER_TOKEN SSE streams open.' },
  unsupported_media_type: { status: 415, description: 'A request body that is not application/json.' },
  opencode_failed: { status: 502, description: 'opencode exited with a non-zero code or was killed by a signal.' },
  opencode_error: { status: 502, description: 'opencode reported an error event (provider, model or tool failure).' },
  empty_response: { status: 502, description: 'opencode finished without an answer.' },
  spawn_failed: { status: 502, description: 'The opencode process could not be started.' },
  invalid_opencode_config: {
    status: 503,
    description:
      "The operator's opencode configuration is not valid JSON: the service passes none of it on and answers nothing until it is fixed and restarted (the message says where it broke, never what it holds).",
  },
  no_provider: { status: 503, description: 'opencode has no model provider configured; see the boot warning and docs/configuration.md.' },
  opencode_unavailable: { status: 503, description: 'No usable opencode binary was found at boot.' },
  not_ready: { status: 503, description: 'The manager has not finished starting, or has stopped.' },
  session_unavailable: {
    status: 503,
    description: 'The replica that owns the session does not answer (it stopped without handing its sessions to a peer); retry after Retry-After seconds.',
  },
  not_owner: { status: 421, description: 'Between replicas only: a forwarded request reached a replica that no longer holds the session.' },
  draining: { status: 503, description: 'The service is shutting down and takes no new messages.' },
  turn_timeout: { status: 504, description: 'The turn ran longer than OCPM_TURN_TIMEOUT_MS and was killed.' },
  stall_timeout: { status: 504, description: 'opencode produced no output or event for OCPM_STALL_TIMEOUT_MS; the turn was ended.' },
  queue_timeout: { status: 504, description: 'The message waited longer than OCPM_QUEUE_TIMEOUT_MS without starting.' },
  internal_error: { status: 500, description: 'A bug in the service; the log has the details.' },
} as const satisfies Record<string, { status: number; description: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function httpStatusOf(code: ErrorCode): number {
  return ERROR_CODES[code].status;
}
