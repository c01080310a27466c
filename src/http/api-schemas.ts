// zod schemas of what the API answers, for the OpenAPI document (requests are in validation.ts).
import { z } from 'zod';
import { sessionUsageSchema, sessionViewSchema, tokenCountsSchema } from '../contracts/session.js';
import { ERROR_CODES } from '../errors/codes.js';
import { INSTANCE_STATES, MANAGER_STATES, PEER_STATES, PROTECTIONS, TURN_MODES } from '../contracts/vocabulary.js';

export const usageSchema = sessionUsageSchema;

export const errorResponseSchema = z.object({
  error: z
    .object({
      code: z.enum(Object.keys(ERROR_CODES) as [keyof typeof ERROR_CODES, ...Array<keyof typeof ERROR_CODES>]),
      message: z.string(),
      usage: usageSchema.optional().describe('budget_exceeded only: the session usage'),
      budget: z.object({ tokens: z.number().nullable(), costUsd: z.number().nullable() }).optional().describe('budget_exceeded only: the budgets'),
    })
    .loose(),
});

export const sessionResponseSchema = sessionViewSchema.loose();

export const sessionListResponseSchema = z.object({
  sessions: z.array(sessionResponseSchema).describe('One page, in id order; with peers: of the sessions of every replica that answered'),
  total: z.number().int().describe('Sessions that match the state filter (all pages)'),
  limit: z.number().int(),
  offset: z.number().int(),
  nextOffset: z.number().int().optional().describe('The offset of the next page; absent on the last page'),
  unreachableReplicas: z.array(z.string()).optional().describe('With peers: replicas whose sessions are missing from the list because they did not answer'),
});

export const turnResponseSchema = z.object({
  sessionId: z.string(),
  text: z.string(),
  opencodeSessionId: z.string().nullable(),
  mode: z.enum(['per-message', 'server']),
  durationMs: z.number(),
  tokens: z.unknown(),
  cost: z.unknown(),
});

export const turnListResponseSchema = z.object({
  sessionId: z.string(),
  messages: z.array(z.object({}).loose()),
});

export const abortResponseSchema = z.object({ sessionId: z.string(), aborting: z.literal(true) });

export const instanceStatusResponseSchema = z
  .object({
    id: z.string(),
    pid: z.number().int().nullable(),
    port: z.number().int().nullable(),
    state: z.enum(INSTANCE_STATES),
    startedAt: z.number().nullable(),
    restarts: z.number().int(),
    lastError: z.string().nullable(),
    lastHealth: z.object({ ok: z.boolean(), latencyMs: z.number(), failureClass: z.string().nullable() }).nullable(),
    rssBytes: z.number(),
    activeTurns: z.number().int(),
    directories: z.number().int(),
  })
  .loose();

/** The fields both shapes of the status have (src/http/status-view.ts). */
const statusSummaryFields = {
  available: z.boolean(),
  version: z.string().nullable().describe("opencode's version; null when it is unavailable"),
  runningProcesses: z.number().int(),
  activeStreams: z.number().int(),
  state: z.enum(MANAGER_STATES),
  draining: z.boolean().describe('True from the first SIGTERM: no new messages, running turns finish'),
  isolation: z.object({ mechanism: z.enum(['landlock', 'none']), enforced: z.boolean() }).strict(),
  replica: z.string().describe("This replica's OCPM_REPLICA_NAME"),
};

const processManagerFields = {
  isRunning: z.boolean(),
  isReady: z.boolean(),
  pendingRequests: z.number().int(),
  activeSessions: z.number().int(),
  lastActivity: z.number(),
  idleTime: z.number(),
  mode: z.enum(['server', 'per-session']),
  description: z.string(),
};

/** Without a valid API token: exactly these fields, nothing about processes, sessions, usage, peers or opencode's setup. */
export const statusSummaryResponseSchema = z
  .object({
    detail: z.literal('summary').describe('The open summary: no valid API token was sent'),
    ...statusSummaryFields,
    processManager: z.object(processManagerFields).strict(),
  })
  .strict();

/** With a valid API token (or OCPM_AUTH=disabled). */
export const statusFullResponseSchema = z
  .object({
    detail: z.literal('full').describe('The full document: a valid API token was sent, or OCPM_AUTH=disabled'),
    ...statusSummaryFields,
    processManager: z
      .object({
        ...processManagerFields,
        instances: z.array(instanceStatusResponseSchema).optional().describe('Server mode only: one entry per pool slot'),
        starts: z
          .object({
            limit: z.number().int().describe('OCPM_MAX_CONCURRENT_STARTS'),
            starting: z.number().int().describe('Servers starting now (spawned, not yet healthy)'),
            waiting: z.number().int().describe('Starts waiting for their turn'),
            oldestWaitMs: z.number().describe('How long the oldest waiting start has waited (0: none waits)'),
          })
          .optional()
          .describe('Server mode only: the start queue'),
        memory: z
          .object({
            limitBytes: z.number().int().describe('OCPM_MEMORY_LIMIT_MB (or 90% of the cgroup limit) in bytes'),
            usedBytes: z.number().int().describe('What the service holds as counted against it'),
            serverEstimateBytes: z.number().int().describe('What one more server is counted at'),
            waiting: z.number().int().describe('Turns waiting for memory to start their server'),
          })
          .optional()
          .describe('Isolated server mode under a memory limit only'),
      })
      .loose(),
    isolation: z
      .object({
        mechanism: z.enum(['landlock', 'none']),
        enforced: z.boolean(),
        protections: z.array(z.enum(PROTECTIONS)).describe('The active layers: landlock, pidns or subreaper, caps, devices, limits, tcp (docs/security.md)'),
        warnings: z.array(z.string()).describe('One line per layer that could not be enabled or was switched off'),
      })
      .strict(),
    queuedRequests: z.number().int(),
    runningTurns: z.number().int(),
    sessionsWaitingOnUser: z.number().int(),
    sessions: z.number().int(),
    serverModeSupported: z.boolean(),
    configuredMode: z.enum(TURN_MODES).nullable(),
    unavailableReason: z.string().nullable(),
    notReady: z
      .object({ code: z.string(), message: z.string() })
      .nullable()
      .describe('Why /readyz answers 503 (not_ready, draining, opencode_unavailable, no_provider, invalid_opencode_config), with the fix; null when ready'),
    opencode: z.object({ providers: z.array(z.string()), defaultModel: z.string().nullable(), configured: z.boolean().nullable() }),
    gateway: z
      .object({
        enabled: z.boolean().describe('The gateway listens: opencode reaches its providers through it'),
        providers: z.array(z.string()).describe('Providers it stands in for'),
        refused: z.array(z.object({ id: z.string(), reason: z.string() })).describe('Configured providers it cannot proxy: opencode does not see them'),
        configError: z.string().nullable().describe('Why the operator opencode config was not passed on (where, never its text)'),
        keys: z.number().int().describe('Virtual keys alive on this replica'),
        forwardsTo: z.enum(['providers', 'upstream-gateway']),
      })
      .nullable()
      .describe('The model gateway (docs/security.md, "Credentials"); null when OCPM_MODEL_GATEWAY=false'),
    peers: z
      .array(
        z.object({
          name: z.string().nullable(),
          url: z.string(),
          state: z.enum(PEER_STATES),
          lastSeenAt: z.number().nullable(),
          error: z.string().optional(),
        }),
      )
      .describe('The other replicas (OCPM_PEERS, OCPM_PEER_DNS) and their state; empty without peers'),
    usage: z
      .object({
        tokens: tokenCountsSchema,
        cost: z.number(),
        turns: z.number().int(),
        sessionsOverBudget: z.number().int(),
        budgets: z
          .object({ tokens: z.number().nullable(), costUsd: z.number().nullable() })
          .describe('OCPM_SESSION_TOKEN_BUDGET, OCPM_SESSION_COST_BUDGET_USD'),
      })
      .describe("The usage of this replica's sessions, summed"),
  })
  .loose();

export const statusResponseSchema = z.discriminatedUnion('detail', [statusSummaryResponseSchema, statusFullResponseSchema]);

export const probeResponseSchema = z.object({ status: z.string() }).loose();

const expiresAt = z.string().describe('ISO time at which an unanswered request is rejected');

export const permissionRequestSchema = z.object({
  id: z.string(),
  sessionId: z.string(),
  permission: z.string().describe("opencode's permission key: bash, edit, external_directory, …"),
  patterns: z.array(z.string()),
  metadata: z.record(z.string(), z.unknown()),
  expiresAt,
});

export const questionRequestSchema = z.object({
  id: z.string(),
  sessionId: z.string(),
  questions: z.array(
    z.object({
      question: z.string(),
      header: z.string(),
      options: z.array(z.object({ label: z.string(), description: z.string() })),
      multiple: z.boolean(),
      custom: z.boolean().describe('A typed answer is allowed'),
    }),
  ),
  expiresAt,
});

export const pendingResponseSchema = z.object({ permissions: z.array(permissionRequestSchema), questions: z.array(questionRequestSchema) });

export const permissionAnswerResponseSchema = z.object({ id: z.string(), reply: z.enum(['once', 'always', 'reject']) });

export const questionAnswerResponseSchema = z.object({ id: z.string(), reply: z.enum(['answered', 'reject']) });
