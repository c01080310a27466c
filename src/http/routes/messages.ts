// Running a message (JSON or SSE) and aborting a running turn.
import type { Request, RequestHandler, Response } from 'express';
import type { z } from 'zod';
import { OcpmError } from '../../errors/errors.js';
import { sessionNotFound, tooManyStreams } from '../../errors/factories.js';
import type { OpencodeProcessManager, TurnResult } from '../../manager/index.js';
import { abortResponseSchema, turnListResponseSchema, turnResponseSchema } from '../api-schemas.js';
import { callerOf } from '../auth.js';
import { errorBody, toOcpmError } from '../http-errors.js';
import type { StreamLimiter } from '../rate-limits.js';
import { failure, json } from '../replies.js';
import { defineRoute, type Route, type RouteInput } from '../route-table.js';
import { openSse } from '../sse.js';
import { listTurnsQuerySchema, messageBodySchema, sessionParamsSchema } from '../validation.js';

export interface MessageRouteDeps {
  readonly manager: OpencodeProcessManager;
  readonly maxMessageChars: number;
  readonly abortOnDisconnect: boolean;
  /** Runs before a message is read: the per-token submission rate limit. */
  readonly submissionLimit: RequestHandler;
  readonly streamLimiter: StreamLimiter;
}

/** The response body of a finished turn. */
function turnBody(turn: TurnResult) {
  return {
    sessionId: turn.sessionId,
    text: turn.text,
    opencodeSessionId: turn.opencodeSessionId ?? null,
    mode: turn.mode,
    durationMs: turn.durationMs,
    tokens: turn.tokens,
    cost: turn.cost,
  };
}

function wantsEventStream(req: Request): boolean {
  return req.accepts(['application/json', 'text/event-stream']) === 'text/event-stream' && (req.get('accept') ?? '').includes('text/event-stream');
}

/** Aborts the turn when the client goes away before the response is complete. */
function abortOnClientGone(res: Response, controller: AbortController, enabled: boolean): void {
  if (!enabled) return;
  res.once('close', () => {
    if (!res.writableFinished) controller.abort(new Error('the client disconnected'));
  });
}

/** Answers a message: the finished turn as JSON, or its events as an SSE stream. */
async function sendMessage(
  deps: MessageRouteDeps,
  { params: { id }, body, req, res }: RouteInput<z.output<typeof sessionParamsSchema>, unknown, z.output<ReturnType<typeof messageBodySchema>>>,
): Promise<void> {
  const { manager } = deps;
  const session = manager.getSession(id);
  if (session === undefined) throw sessionNotFound(id, `register it with PUT /api/sessions/${id}`);
  // Refusals (not ready, draining, queue full) answer as plain errors, before any stream opens.
  await manager.assertCanAccept(id);

  const controller = new AbortController();
  abortOnClientGone(res, controller, deps.abortOnDisconnect);
  const options = { signal: controller.signal, model: body.model, agent: body.agent };

  if (!wantsEventStream(req)) {
    const turn = await manager.executeInSession(id, session.workspace, body.text, options);
    res.json(turnBody(turn));
    return;
  }

  const releaseSlot = deps.streamLimiter.acquire(callerOf(res));
  if (releaseSlot === undefined) throw tooManyStreams('close one or use JSON');
  const stream = openSse(res);
  const releaseGauge = manager.trackStream();
  const release = (): void => {
    releaseGauge();
    releaseSlot();
  };
  res.once('close', release);
  try {
    const turn = await manager.executeInSession(id, session.workspace, body.text, {
      ...options,
      onEvent: (event) => stream.send('part', event),
      onUserRequest: (event) => stream.send(event.type, event.data),
    });
    stream.send('done', turnBody(turn));
  } catch (error) {
    const known = toOcpmError(error);
    stream.send(
      'error',
      known === undefined ? errorBody('internal_error', 'Internal error; see the service log') : errorBody(known.code, known.message, known.details),
    );
    if (known === undefined) throw error;
  } finally {
    stream.close();
    release();
  }
}

export function messageRoutes(deps: MessageRouteDeps): Route[] {
  const { manager } = deps;
  const notFound = failure('No such session');
  return [
    defineRoute({
      method: 'post',
      path: '/api/sessions/:id/messages',
      summary:
        'Send a message; JSON answer, or an SSE stream with Accept: text/event-stream (part, permission, question, permission_resolved, question_resolved, then done or error)',
      security: 'api',
      // The rate limit counts every submission, valid or not: it runs before the input is read.
      use: [deps.submissionLimit],
      params: sessionParamsSchema,
      body: messageBodySchema(deps.maxMessageChars),
      replies: {
        200: { description: 'The finished turn (JSON), or an SSE stream of part/done/error events', schema: turnResponseSchema },
        400: failure('Invalid body, or a model or agent opencode does not know'),
        404: notFound,
        403: failure('The turn needed a permission it did not get (permission_denied)'),
        409: failure('Aborted'),
        413: failure('Body too large'),
        415: failure('Not JSON'),
        429: failure('Rate limit, queue full or too many streams (Retry-After), or the session is over a budget (budget_exceeded, with usage and budget)'),
        502: failure('opencode failed'),
        503: failure('Not ready or draining'),
        504: failure('Timeout'),
      },
      handler: (input) => sendMessage(deps, input),
    }),
    defineRoute({
      method: 'get',
      path: '/api/sessions/:id/messages',
      summary: 'Past turns of a session, newest first',
      security: 'api',
      params: sessionParamsSchema,
      query: listTurnsQuerySchema,
      replies: { 200: json('The turns', turnListResponseSchema), 404: notFound },
      handler: ({ params: { id }, query: { limit }, res }) => {
        if (manager.getSession(id) === undefined) throw sessionNotFound(id);
        res.json({ sessionId: id, messages: manager.turns.list(id, limit) });
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/sessions/:id/abort',
      summary: 'Abort the running turn',
      security: 'api',
      params: sessionParamsSchema,
      replies: { 202: json('Aborting', abortResponseSchema), 404: notFound, 409: failure('No turn running') },
      handler: ({ params: { id }, res }) => {
        if (manager.getSession(id) === undefined) throw sessionNotFound(id);
        if (!manager.abortTurn(id, 'aborted through the API')) {
          throw new OcpmError('session_idle', `Session ${id} is not running a turn`);
        }
        res.status(202).json({ sessionId: id, aborting: true });
      },
    }),
  ];
}
