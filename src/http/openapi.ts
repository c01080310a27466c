// The OpenAPI 3.1 document of this service, generated from the route table (route-table.ts): the
// paths, the zod schemas the routes parse with (validation.ts) and answer with (api-schemas.ts).
// Replica-to-replica routes are not part of it.
import { z } from 'zod';
import { SERVICE_VERSION } from '../version.js';
import { failure } from './replies.js';
import type { Reply, Route, Security } from './route-table.js';

function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const converted: Record<string, unknown> = z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' });
  delete converted.$schema; // embedded in the document, which names its dialect once
  return converted;
}

function parameters(route: Route): unknown[] {
  const list: unknown[] = [];
  for (const [where, schema] of [
    ['path', route.params],
    ['query', route.query],
  ] as const) {
    if (schema === undefined) continue;
    for (const [name, field] of Object.entries(schema.shape)) {
      list.push({ name, in: where, required: where === 'path' || !field.safeParse(undefined).success, schema: jsonSchema(field) });
    }
  }
  return list;
}

function responses(route: Route): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const standard: Record<number, Reply> =
    route.security === 'none' || route.security === 'api-optional' ? {} : { 401: failure('Missing or wrong bearer token') };
  for (const [status, reply] of Object.entries({ ...standard, ...route.replies })) {
    const content =
      reply.schema !== undefined
        ? { [reply.contentType ?? 'application/json']: { schema: jsonSchema(reply.schema) } }
        : reply.contentType !== undefined
          ? { [reply.contentType]: { schema: { type: 'string' } } }
          : undefined;
    out[status] = content === undefined ? { description: reply.description } : { description: reply.description, content };
  }
  return out;
}

/** `{}` in the list: the operation may also be called without the token. */
function securityOf(security: Exclude<Security, 'peer'>): unknown[] {
  switch (security) {
    case 'api':
      return [{ bearer: [] }];
    case 'api-optional':
      return [{ bearer: [] }, {}];
    case 'metrics':
      return [{ metricsBearer: [] }, {}];
    case 'none':
      return [];
  }
}

/** `:id` in Express, `{id}` in OpenAPI. */
export const documentPath = (path: string): string => path.replace(/:([A-Za-z]+)/g, '{$1}');

export function buildOpenApiDocument(routes: readonly Route[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    if (route.security === 'peer') continue;
    const key = documentPath(route.path);
    const body =
      route.body === undefined
        ? undefined
        : {
            required: !route.body.safeParse(undefined).success,
            content: { 'application/json': { schema: jsonSchema(route.body) } },
          };
    paths[key] ??= {};
    paths[key][route.method] = {
      summary: route.summary,
      operationId: `${route.method}${key.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      security: securityOf(route.security),
      parameters: parameters(route),
      ...(body === undefined ? {} : { requestBody: body }),
      responses: responses(route),
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'opencode-process-manager',
      version: SERVICE_VERSION,
      description: 'Runs OpenCode for the sessions of a web app. Every error is { "error": { "code", "message" } }.',
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'OCPM_API_TOKEN, OCPM_API_TOKEN_FILE, or the generated OCPM_DATA_DIR/api-token' },
        metricsBearer: { type: 'http', scheme: 'bearer', description: 'OCPM_METRICS_TOKEN (only when set)' },
      },
    },
    paths,
  };
}
