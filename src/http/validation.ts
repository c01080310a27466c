// zod schemas for every param and body of the API; parse() turns a failure into invalid_request.
import { z } from 'zod';
import { OcpmError } from '../errors/errors.js';
import { SESSION_STATES } from '../contracts/vocabulary.js';

export { sessionIdSchema } from '../contracts/session.js';
import { sessionIdSchema } from '../contracts/session.js';

export const sessionParamsSchema = z.object({ id: sessionIdSchema });

export const putSessionBodySchema = z.strictObject({
  workspace: z
    .string()
    .min(1, 'must not be empty')
    .max(4096)
    .optional()
    .describe('Directory relative to OCPM_WORKSPACE_ROOT (or absolute inside it). Optional when OCPM_AUTO_CREATE_WORKSPACES=true: then <root>/<session id>.'),
});

export const requestParamsSchema = z.object({
  id: sessionIdSchema,
  requestId: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'must match [A-Za-z0-9_-]{1,128}'),
});

export const permissionReplyBodySchema = z.strictObject({
  reply: z.enum(['once', 'always', 'reject']).describe('once: allow this call; always: allow calls like it for the rest of the session; reject: refuse it'),
  message: z.string().max(2000).optional().describe('With reject: told to the model, for example what to do instead'),
});

export const questionReplyBodySchema = z.union([
  z.strictObject({
    answers: z
      .array(z.array(z.string().max(4000)).max(50))
      .min(1)
      .max(20)
      .describe('One list per question, in order: the chosen option labels, or the typed answer'),
  }),
  z.strictObject({ reject: z.literal(true).describe('Decline to answer') }),
]);

/** Routes that take no query parameters refuse any. */
export const noQuerySchema = z.strictObject({});

/**
 * Probes, the status, the metrics, the console and the replica routes ignore any query string (as
 * they always have): a cache-busting parameter must not fail a probe or a scrape.
 */
export const ignoredQuerySchema = z.object({});

/** Routes that take no body accept none, or an empty JSON object. */
export const noBodySchema = z.strictObject({}).optional();

export function messageBodySchema(maxMessageChars: number) {
  return z.strictObject({
    text: z
      .string()
      .min(1, 'must not be empty')
      .max(maxMessageChars, `must be at most ${maxMessageChars} characters`)
      .refine((text) => text.trim() !== '', 'must not be blank'),
    // A leading letter or digit: these become argv values, and a leading '-' would read as a flag.
    model: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9._:/@+-]+$/, 'must look like provider/model')
      .max(256)
      .optional(),
    agent: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be a plain agent name')
      .optional(),
  });
}

export const deleteSessionQuerySchema = z.strictObject({
  purge: z.enum(['true', 'false']).optional().describe('true: also delete the workspace directory, the opencode conversation and the turn history'),
});

export const listTurnsQuerySchema = z.strictObject({
  limit: z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(1, 'must be at least 1').max(100, 'must be at most 100'))
    .default(20),
});

/** A whole number in a query string, between `min` and `max`, `fallback` when left out. */
function wholeNumber(min: number, max: number, fallback: number) {
  return z
    .string()
    .regex(/^\d{1,9}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`))
    .default(fallback);
}

export const SESSION_PAGE_MAX = 1000;

export const listSessionsQuerySchema = z.strictObject({
  state: z.enum(SESSION_STATES).optional().describe('Only the sessions in this state'),
  limit: wholeNumber(1, SESSION_PAGE_MAX, 100).describe(`Sessions per page (1-${SESSION_PAGE_MAX}, default 100)`),
  offset: wholeNumber(0, 1e9, 0).describe('Sessions to skip, in id order (default 0)'),
});

export const instanceParamsSchema = z.object({
  name: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must match [A-Za-z0-9_-]{1,64}')
    .describe('The instance id of the status: processManager.instances[].id'),
});

export const RESTART_DRAIN_MAX_MS = 300000;

export const restartInstanceQuerySchema = z.strictObject({
  timeoutMs: wholeNumber(0, RESTART_DRAIN_MAX_MS, 30000).describe(
    `How long the instance's running turns may take to finish before they are aborted (0-${RESTART_DRAIN_MAX_MS}, default 30000)`,
  ),
});

function describe(error: z.ZodError, where: string): string {
  return error.issues
    .map((issue) => {
      const at = issue.path.length > 0 ? `${where}.${issue.path.join('.')}` : where;
      return `${at}: ${issue.message}`;
    })
    .join('; ');
}

export function parse<T>(schema: z.ZodType<T>, value: unknown, where: 'params' | 'query' | 'body'): T {
  const result = schema.safeParse(value ?? (where === 'body' ? undefined : {}));
  if (!result.success) throw new OcpmError('invalid_request', describe(result.error, where));
  return result.data;
}
