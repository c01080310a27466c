// The OpenAPI 3.1 document of this service, built from the same zod schemas the routes parse with
// (validation.ts) and answer with (api-schemas.ts). A test checks it against the app's real routes.
import { z } from 'zod';
import { SERVICE_VERSION } from '../version.js';
import {
  abortResponseSchema,
  errorResponseSchema,
  instanceStatusResponseSchema,
  pendingResponseSchema,
  permissionAnswerResponseSchema,
  probeResponseSchema,
  questionAnswerResponseSchema,
  sessionListResponseSchema,
  sessionResponseSchema,
  statusResponseSchema,
  turnListResponseSchema,
  turnResponseSchema,
} from './api-schemas.js';
import {
  deleteSessionQuerySchema,
  instanceParamsSchema,
  listSessionsQuerySchema,
  listTurnsQuerySchema,
  messageBodySchema,
  noBodySchema,
  noQuerySchema,
  permissionReplyBodySchema,
  putSessionBodySchema,
  questionReplyBodySchema,
  requestParamsSchema,
  restartInstanceQuerySchema,
  sessionParamsSchema,
} from './validation.js';

type Method = 'get' | 'put' | 'post' | 'delete';

interface Reply {
  readonly description: string;
  readonly schema?: z.ZodType;
  readonly contentType?: string;
}

export interface ApiOperation {
  readonly method: Method;
  /** Express syntax (`:id`); the document uses `{id}`. */
  readonly path: string;
  readonly summary: string;
  /** `api-optional`: open, and a valid API token gets a fuller answer (the status); never 401. */
  readonly security: 'api' | 'api-optional' | 'metrics' | 'none';
  readonly params?: z.ZodObject<Record<string, z.ZodType>>;
  readonly query?: z.ZodObject<Record<string, z.ZodType>>;
  readonly body?: z.ZodType;
  readonly replies: Readonly<Record<number, Reply>>;
}

const json = (description: string, schema: z.ZodType): Reply => ({ description, schema });
const failure = (description: string): Reply => json(description, errorResponseSchema);

/** Every route of the app. */
export function apiOperations(maxMessageChars: number): ApiOperation[] {
  const sessionParams = sessionParamsSchema;
  return [
    {
      method: 'put',
      path: '/api/sessions/:id',
      summary: 'Register or update a session and its workspace',
      security: 'api',
      params: sessionParams,
      query: noQuerySchema,
      body: putSessionBodySchema,
      replies: {
        200: json('Updated', sessionResponseSchema),
        201: json('Created', sessionResponseSchema),
        400: failure('Invalid id, body or workspace'),
        409: failure('Busy, or workspace used by another session'),
      },
    },
    {
      method: 'get',
      path: '/api/sessions',
      summary: 'List sessions: filtered by state, in id order, one page at a time',
      security: 'api',
      query: listSessionsQuerySchema,
      replies: { 200: json('One page of the sessions', sessionListResponseSchema), 400: failure('Invalid state, limit or offset') },
    },
    {
      method: 'get',
      path: '/api/sessions/:id',
      summary: 'One session',
      security: 'api',
      params: sessionParams,
      query: noQuerySchema,
      replies: { 200: json('The session', sessionResponseSchema), 404: failure('No such session') },
    },
    {
      method: 'post',
      path: '/api/sessions/:id/usage/reset',
      summary: "Start a session's usage over (and so its budgets): its new messages are taken again",
      security: 'api',
      params: sessionParams,
      query: noQuerySchema,
      body: noBodySchema,
      replies: { 200: json('The session, its usage zeroed', sessionResponseSchema), 404: failure('No such session') },
    },
    {
      method: 'delete',
      path: '/api/sessions/:id',
      summary: 'Delete a session (aborts its turn; purge=true also deletes its workspace and conversation)',
      security: 'api',
      params: sessionParams,
      query: deleteSessionQuerySchema,
      body: noBodySchema,
      replies: { 204: { description: 'Deleted' }, 404: failure('No such session') },
    },
    {
      method: 'post',
      path: '/api/sessions/:id/reset',
      summary:
        'Reset a stuck session: abort its turn and queued messages, reject its pending requests, forget its opencode conversation (record, workspace and history stay)',
      security: 'api',
      params: sessionParams,
      query: noQuerySchema,
      body: noBodySchema,
      replies: { 200: json('The session after the reset', sessionResponseSchema), 404: failure('No such session') },
    },
    {
      method: 'post',
      path: '/api/sessions/:id/messages',
      summary:
        'Send a message; JSON answer, or an SSE stream with Accept: text/event-stream (part, permission, question, permission_resolved, question_resolved, then done or error)',
      security: 'api',
      params: sessionParams,
      query: noQuerySchema,
      body: messageBodySchema(maxMessageChars),
      replies: {
        200: { description: 'The finished turn (JSON), or an SSE stream of part/done/error events', schema: turnResponseSchema },
        400: failure('Invalid body, or a model or agent opencode does not know'),
        404: failure('No such session'),
        403: failure('The turn needed a permission it did not get (permission_denied)'),
        409: failure('Aborted'),
        413: failure('Body too large'),
        415: failure('Not JSON'),
        429: failure('Rate limit, queue full or too many streams (Retry-After), or the session is over a budget (budget_exceeded, with usage and budget)'),
        502: failure('opencode failed'),
        503: failure('Not ready or draining'),
        504: failure('Timeout'),
      },
    },
    {
      method: 'get',
      path: '/api/sessions/:id/messages',
      summary: 'Past turns of a session, newest first',
      security: 'api',
      params: sessionParams,
      query: listTurnsQuerySchema,
      replies: { 200: json('The turns', turnListResponseSchema), 404: failure('No such session') },
    },
    {
      method: 'post',
      path: '/api/sessions/:id/abort',
      summary: 'Abort the running turn',
      security: 'api',
      params: sessionParams,
      query: noQuerySchema,
      body: noBodySchema,
      replies: { 202: json('Aborting', abortResponseSchema), 404: failure('No such session'), 409: failure('No turn running') },
    },
    {
      method: 'get',
      path: '/api/sessions/:id/pending',
      summary: "The permission requests and questions the session's turn waits on",
      security: 'api',
      params: sessionParams,
      query: noQuerySchema,
      replies: { 200: json('Pending requests', pendingResponseSchema), 404: failure('No such session') },
    },
    {
      method: 'post',
      path: '/api/sessions/:id/permissions/:requestId',
      summary: 'Answer a permission request: once, always or reject',
      security: 'api',
      params: requestParamsSchema,
      query: noQuerySchema,
      body: permissionReplyBodySchema,
      replies: {
        200: json('Answered', permissionAnswerResponseSchema),
        400: failure('Invalid body'),
        404: failure('No such session or pending request'),
        409: failure('Already answered'),
      },
    },
    {
      method: 'post',
      path: '/api/sessions/:id/questions/:requestId',
      summary: 'Answer a question ({ answers }) or decline it ({ reject: true })',
      security: 'api',
      params: requestParamsSchema,
      query: noQuerySchema,
      body: questionReplyBodySchema,
      replies: {
        200: json('Answered', questionAnswerResponseSchema),
        400: failure('Invalid body'),
        404: failure('No such session or pending question'),
        409: failure('Already answered'),
      },
    },
    {
      method: 'post',
      path: '/api/instances/:name/restart',
      summary:
        "Drain and restart one opencode server instance (this replica's): no new turn goes to it, its running turns get timeoutMs to finish, then it is replaced; answers once the new instance is ready",
      security: 'api',
      params: instanceParamsSchema,
      query: restartInstanceQuerySchema,
      body: noBodySchema,
      replies: {
        200: json(
          'The instance after the restart (state ready, or backoff/failed with lastError when the new one did not start)',
          instanceStatusResponseSchema,
        ),
        400: failure('Invalid name or timeoutMs'),
        404: failure('No such instance'),
        409: failure('No server pool (not_server_mode), or an idle isolated slot (instance_idle)'),
      },
    },
    {
      method: 'get',
      path: '/api/opencode/status',
      summary:
        'Manager status. Open: without a valid API token (a wrong one included) the summary (detail "summary": up, ready, load, isolation; no pids, ports, sessions, usage, peers or opencode setup); with one the full document (detail "full")',
      security: 'api-optional',
      replies: { 200: json('The summary, or with a valid token the full status', statusResponseSchema) },
    },
    {
      method: 'get',
      path: '/api/events',
      summary:
        "The operator console's SSE stream: a snapshot event ({ status, sessions, recentTurns, pending }), then status, sessions ({ upserted, removed }), turns ({ upserted }) and pending events when they change",
      security: 'api',
      query: noQuerySchema,
      replies: {
        200: { description: 'An SSE stream that stays open', contentType: 'text/event-stream' },
        400: failure('A query string'),
        429: failure('Too many streams open for this token'),
      },
    },
    { method: 'get', path: '/api/openapi.json', summary: 'This document', security: 'api', replies: { 200: { description: 'OpenAPI 3.1 document' } } },
    { method: 'get', path: '/livez', summary: 'Liveness probe', security: 'none', replies: { 200: json('Alive', probeResponseSchema) } },
    {
      method: 'get',
      path: '/readyz',
      summary: 'Readiness probe',
      security: 'none',
      replies: { 200: json('Ready', probeResponseSchema), 503: json('Not ready or draining', probeResponseSchema) },
    },
    { method: 'get', path: '/', summary: 'Redirects to the operator console', security: 'none', replies: { 302: { description: 'To /console' } } },
    {
      method: 'get',
      path: '/console',
      summary: 'The operator console, a static page (its data comes from GET /api/events with the API token)',
      security: 'none',
      replies: { 200: { description: 'The page', contentType: 'text/html' } },
    },
    {
      method: 'get',
      path: '/metrics',
      summary: 'Prometheus metrics (behind OCPM_METRICS_TOKEN when set)',
      security: 'metrics',
      replies: { 200: { description: 'Prometheus text exposition', contentType: 'text/plain' } },
    },
  ];
}

function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const converted: Record<string, unknown> = z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' });
  delete converted.$schema; // embedded in the document, which names its dialect once
  return converted;
}

function parameters(operation: ApiOperation): unknown[] {
  const list: unknown[] = [];
  for (const [where, schema] of [
    ['path', operation.params],
    ['query', operation.query],
  ] as const) {
    if (schema === undefined) continue;
    for (const [name, field] of Object.entries(schema.shape)) {
      list.push({ name, in: where, required: where === 'path' || !field.safeParse(undefined).success, schema: jsonSchema(field) });
    }
  }
  return list;
}

function responses(operation: ApiOperation): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const standard: Record<number, Reply> =
    operation.security === 'none' || operation.security === 'api-optional' ? {} : { 401: failure('Missing or wrong bearer token') };
  for (const [status, reply] of Object.entries({ ...standard, ...operation.replies })) {
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
function securityOf(security: ApiOperation['security']): unknown[] {
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

export function buildOpenApiDocument(maxMessageChars: number): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const operation of apiOperations(maxMessageChars)) {
    const key = operation.path.replace(/:([A-Za-z]+)/g, '{$1}');
    const body =
      operation.body === undefined
        ? undefined
        : {
            required: !operation.body.safeParse(undefined).success,
            content: { 'application/json': { schema: jsonSchema(operation.body) } },
          };
    paths[key] ??= {};
    paths[key][operation.method] = {
      summary: operation.summary,
      operationId: `${operation.method}${key.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      security: securityOf(operation.security),
      parameters: parameters(operation),
      ...(body === undefined ? {} : { requestBody: body }),
      responses: responses(operation),
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
