// The fixed words of the service's contract, declared once: the states, modes, outcomes and reasons
// that the API answers, the metrics use as label values, the store keeps and the CLI shows. A leaf
// module: it imports nothing of the project, so every layer may import it.

/** What a session is doing: `waiting_on_user` (its turn waits on a person), `busy` (a turn runs), `queued` (its messages wait), else `idle`. */
export const SESSION_STATES = ['idle', 'busy', 'queued', 'waiting_on_user'] as const;
export type SessionState = (typeof SESSION_STATES)[number];

/** The isolation layers a sandbox can have (see docs/security.md). */
export const PROTECTIONS = ['landlock', 'pidns', 'subreaper', 'caps', 'uid', 'devices', 'limits', 'tcp'] as const;
export type Protection = (typeof PROTECTIONS)[number];

/** A recorded turn: `running` until it ends; `interrupted` when the service stopped under it. */
export const TURN_STATUSES = ['running', 'success', 'error', 'timeout', 'aborted', 'interrupted'] as const;
export type TurnStatus = (typeof TURN_STATUSES)[number];

/** The manager's lifecycle: created → starting → ready | unavailable → draining → stopping → stopped. */
export const MANAGER_STATES = ['created', 'starting', 'ready', 'unavailable', 'draining', 'stopping', 'stopped'] as const;
export type ManagerState = (typeof MANAGER_STATES)[number];

export const TURN_MODES = ['per-message', 'server'] as const;
export type TurnMode = (typeof TURN_MODES)[number];

/** How a turn ended (a message aborted or timed out while it waited counts too). */
export const TURN_OUTCOMES = ['success', 'error', 'timeout', 'aborted'] as const;
export type TurnOutcome = (typeof TURN_OUTCOMES)[number];

/** Why a message was refused or dropped before it started (`draining`: at shutdown; `budget_exceeded`: the session is over a budget; `resource_limit`: its workspace is over OCPM_SESSION_DISK_MB). */
export const REJECT_REASONS = ['queue_full', 'session_queue_full', 'queue_timeout', 'draining', 'budget_exceeded', 'resource_limit'] as const;

/** The error codes a message can be refused with before it is a turn (opencode_manager_messages_refused_total{code}). */
export const REFUSAL_CODES = [
  'not_ready',
  'draining',
  'opencode_unavailable',
  'no_provider',
  'invalid_opencode_config',
  'invalid_model',
  'invalid_agent',
  'budget_exceeded',
  'resource_limit',
  'queue_full',
  'session_queue_full',
] as const;

/** A server instance's state; `idle`: an isolated pool's slot that serves no session now (no process). */
export const INSTANCE_STATES = ['idle', 'starting', 'ready', 'backoff', 'stopping', 'stopped', 'failed'] as const;
export type InstanceState = (typeof INSTANCE_STATES)[number];

/** Why a server instance restarted; `operator`: asked for with POST /api/instances/:name/restart. */
export const RESTART_REASONS = ['exit', 'health', 'memory', 'start_failed', 'retry', 'operator'] as const;
export type RestartReason = (typeof RESTART_REASONS)[number];

/** Why a directory's instance state was given back. */
export const DISPOSAL_REASONS = ['idle', 'session_deleted', 'session_reset'] as const;

/** What an isolated pool did when one more server did not fit under OCPM_MEMORY_LIMIT_MB. */
export const MEMORY_FULL_ACTIONS = ['evicted', 'waited', 'per_message'] as const;
export type DisposalReason = (typeof DISPOSAL_REASONS)[number];

/** A failed health check: timeout, refused (nothing listening), bad_status, error. */
export const HEALTH_FAILURE_CLASSES = ['timeout', 'refused', 'bad_status', 'error'] as const;
export type HealthFailureClass = (typeof HEALTH_FAILURE_CLASSES)[number];

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

/** A person's reply to a permission request. */
export const PERMISSION_REPLIES = ['once', 'always', 'reject'] as const;
export type PermissionReply = (typeof PERMISSION_REPLIES)[number];

/** A peer replica's state; `name_conflict`: it answers with this replica's own name. */
export const PEER_STATES = ['up', 'draining', 'down', 'left', 'unauthorized', 'name_conflict'] as const;
export type PeerState = (typeof PEER_STATES)[number];
