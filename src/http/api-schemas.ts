// zod schemas of what the API answers, for the OpenAPI document (requests are in validation.ts).
import { z } from 'zod';
import { ERROR_CODES } from '../errors/codes.js';

export const errorResponseSchema = z.object({
  error: z.object({
    code: z.enum(Object.keys(ERROR_CODES) as [keyof typeof ERROR_CODES, ...Array<keyof typeof ERROR_CODES>]),
    message: z.string(),
  }),
});

export const sessionResponseSchema = z
  .object({
    id: z.string(),
    workspace: z.string().describe('The real path of the workspace'),
    opencodeSessionId: z.string().nullable(),
    messageCount: z.number().int(),
    createdAt: z.number().describe('ms since the epoch'),
    lastActivity: z.number().describe('ms since the epoch'),
  })
  .loose();

export const sessionListResponseSchema = z.object({ sessions: z.array(sessionResponseSchema) });

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

export const statusResponseSchema = z
  .object({
    available: z.boolean(),
    version: z.string().nullable(),
    runningProcesses: z.number().int(),
    activeStreams: z.number().int(),
    processManager: z
      .object({
        isRunning: z.boolean(),
        isReady: z.boolean(),
        pendingRequests: z.number().int(),
        activeSessions: z.number().int(),
        lastActivity: z.number(),
        idleTime: z.number(),
        mode: z.enum(['server', 'per-session']),
        description: z.string(),
      })
      .loose(),
  })
  .loose();

export const probeResponseSchema = z.object({ status: z.string() }).loose();
