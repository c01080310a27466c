// A person's side of a turn: the permission requests and questions its turn waits on, and the answers.
// A JSON client whose POST /messages is still waiting polls /pending; an SSE client gets them as events.
import { Router } from 'express';
import { OcpmError } from '../../errors/errors.js';
import type { OpencodeProcessManager } from '../../manager/opencode-process-manager.js';
import { noQuerySchema, parse, permissionReplyBodySchema, questionReplyBodySchema, requestParamsSchema, sessionParamsSchema } from '../validation.js';

export function userRequestRoutes(manager: OpencodeProcessManager): Router {
  const router = Router();
  const requireSession = (id: string): void => {
    if (manager.getSession(id) === undefined) throw new OcpmError('session_not_found', `No session ${id}`);
  };

  router.get('/api/sessions/:id/pending', (req, res) => {
    const { id } = parse(sessionParamsSchema, req.params, 'params');
    parse(noQuerySchema, req.query, 'query');
    requireSession(id);
    res.json(manager.pendingUserRequests(id));
  });

  router.post('/api/sessions/:id/permissions/:requestId', async (req, res) => {
    const { id, requestId } = parse(requestParamsSchema, req.params, 'params');
    parse(noQuerySchema, req.query, 'query');
    const body = parse(permissionReplyBodySchema, req.body, 'body');
    requireSession(id);
    await manager.answerPermission(id, requestId, body.reply, body.message);
    res.json({ id: requestId, reply: body.reply });
  });

  router.post('/api/sessions/:id/questions/:requestId', async (req, res) => {
    const { id, requestId } = parse(requestParamsSchema, req.params, 'params');
    parse(noQuerySchema, req.query, 'query');
    const body = parse(questionReplyBodySchema, req.body, 'body');
    requireSession(id);
    await manager.answerQuestion(id, requestId, body);
    res.json({ id: requestId, reply: 'answers' in body ? 'answered' : 'reject' });
  });

  return router;
}
