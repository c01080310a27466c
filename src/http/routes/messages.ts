// Running a message (JSON or SSE) and aborting a running turn.
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { OcpmError } from '../../errors/errors.js';
import type { OpencodeProcessManager, TurnResult } from '../../manager/opencode-process-manager.js';
import { errorBody, toOcpmError } from '../http-errors.js';
import { openSse } from '../sse.js';
import { callerOf } from '../auth.js';
import type { StreamLimiter } from '../rate-limits.js';
import { listTurnsQuerySchema, messageBodySchema, noBodySchema, noQuerySchema, parse, sessionParamsSchema } from '../validation.js';

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

export function messageRoutes(deps: MessageRouteDeps): Router {
  const router = Router();
  const { manager } = deps;
  const bodySchema = messageBodySchema(deps.maxMessageChars);

  router.post('/api/sessions/:id/messages', deps.submissionLimit, async (req, res) => {
    const { id } = parse(sessionParamsSchema, req.params, 'params');
    parse(noQuerySchema, req.query, 'query');
    const body = parse(bodySchema, req.body, 'body');
    const session = manager.getSession(id);
    if (session === undefined) throw new OcpmError('session_not_found', `No session ${id}; register it with PUT /api/sessions/${id}`);
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
    if (releaseSlot === undefined) throw new OcpmError('too_many_streams', 'This token has too many SSE streams open; close one or use JSON');
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
  });

  router.get('/api/sessions/:id/messages', (req, res) => {
    const { id } = parse(sessionParamsSchema, req.params, 'params');
    const { limit } = parse(listTurnsQuerySchema, req.query, 'query');
    if (manager.getSession(id) === undefined) throw new OcpmError('session_not_found', `No session ${id}`);
    res.json({ sessionId: id, messages: manager.listTurns(id, limit) });
  });

  router.post('/api/sessions/:id/abort', (req, res) => {
    const { id } = parse(sessionParamsSchema, req.params, 'params');
    parse(noQuerySchema, req.query, 'query');
    parse(noBodySchema, req.body, 'body');
    if (manager.getSession(id) === undefined) throw new OcpmError('session_not_found', `No session ${id}`);
    if (!manager.abortTurn(id, 'aborted through the API')) {
      throw new OcpmError('session_idle', `Session ${id} is not running a turn`);
    }
    res.status(202).json({ sessionId: id, aborting: true });
  });

  return router;
}
