// The session as the API shows it and as one replica hands it to another, declared once as zod
// schemas: the TypeScript types are inferred from them, the HTTP layer validates and documents with
// them, the store, the manager and the CLI use the types. A leaf module (only zod and the vocabulary).
import { z } from 'zod';
import { SESSION_STATES, TURN_STATUSES } from './vocabulary.js';

/** Session ids: safe as a path segment and as a workspace name under the root. */
export const sessionIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'must match [A-Za-z0-9_-]{1,128}');

/** Tokens by type (the five counted types; opencode's `total` is not one of them). */
export const tokenCountsSchema = z.object({
  input: z.number(),
  output: z.number(),
  reasoning: z.number(),
  cacheRead: z.number(),
  cacheWrite: z.number(),
});

export const sessionUsageSchema = z
  .object({
    tokens: tokenCountsSchema,
    cost: z.number().describe('USD, as opencode prices the models'),
    turns: z.number().int().describe('Turns that ran, whatever their outcome'),
    resetAt: z.number().nullable().describe('When the usage was last reset (ms since the epoch); null: never'),
  })
  .describe('Since the session was created or its usage reset');

export const sessionViewSchema = z.object({
  id: z.string(),
  workspace: z.string().describe('The real path of the workspace'),
  opencodeSessionId: z.string().nullable(),
  messageCount: z.number().int(),
  createdAt: z.number().describe('ms since the epoch'),
  lastActivity: z.number().describe('ms since the epoch'),
  busy: z.boolean().describe('A turn of the session runs now'),
  waitingOnUser: z.boolean().describe("True while the session's turn waits on a person's answer"),
  pendingUserRequests: z.number().int().describe('Permission requests and questions waiting for an answer'),
  usage: sessionUsageSchema,
  state: z
    .enum(SESSION_STATES)
    .describe('waiting_on_user: its turn waits on a person; busy: a turn runs; queued: its messages wait for their turn; idle: none of these'),
});
export type SessionView = z.infer<typeof sessionViewSchema>;

/**
 * One turn of a session's history as it travels to another replica. Fields a sender may lack (an
 * older version) get their empty value, so a history is never refused for them.
 */
export const transferredTurnSchema = z.object({
  id: z.number().int().default(0),
  sessionId: z.string(),
  status: z.enum(TURN_STATUSES),
  mode: z.string().nullable().default(null),
  startedAt: z.number(),
  finishedAt: z.number().nullable().default(null),
  durationMs: z.number().nullable().default(null),
  text: z.string().nullable().default(null),
  error: z.object({ code: z.string(), message: z.string() }).nullable().default(null),
  tokens: z.unknown().default(null),
  cost: z.number().nullable().default(null),
  opencodeSessionId: z.string().nullable().default(null),
});

/** What a draining replica sends a peer so it can continue the session (its workspace is shared). */
export const sessionTransferSchema = z.object({
  record: z.object({
    id: sessionIdSchema,
    workspace: z.string().min(1),
    opencodeSessionId: z.string().nullable(),
    messageCount: z.number().int().min(0),
    createdAt: z.number(),
    lastActivity: z.number(),
    lastMessageAt: z.number().nullable(),
    /** Absent when the sender predates usage accounting; read leniently (usageFrom). */
    usage: z.unknown().optional(),
  }),
  turns: z.array(transferredTurnSchema),
  /** `opencode export` of the conversation; null before the session's first turn, or when `database` carries it. */
  conversation: z.unknown(),
  /** Isolated sessions: the session's own opencode database (base64), which holds the conversation. */
  database: z.string().optional(),
});
export type SessionTransfer = z.infer<typeof sessionTransferSchema>;
