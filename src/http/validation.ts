// zod schemas for every param and body of the API; parse() turns a failure into invalid_request.
import { z } from 'zod';
import { OcpmError } from '../errors/errors.js';

export const sessionIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'must match [A-Za-z0-9_-]{1,128}');

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
