// Shorthands for the `replies` of the route table: a JSON answer with its schema, or our error shape.
import type { z } from 'zod';
import { errorResponseSchema } from './api-schemas.js';
import type { Reply } from './route-table.js';

export const json = (description: string, schema: z.ZodType): Reply => ({ description, schema });

/** `{ "error": { "code", "message" } }`, the shape of every error. */
export const failure = (description: string): Reply => json(description, errorResponseSchema);
