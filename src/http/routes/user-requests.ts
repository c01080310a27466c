// A person's side of a turn: the permission requests and questions its turn waits on, and the answers.
// A JSON client whose POST /messages is still waiting polls /pending; an SSE client gets them as events.
import { sessionNotFound } from '../../errors/factories.js';
import type { OpencodeProcessManager } from '../../manager/index.js';
import { pendingResponseSchema, permissionAnswerResponseSchema, questionAnswerResponseSchema } from '../api-schemas.js';
import { failure, json } from '../replies.js';
import { defineRoute, type Route } from '../route-table.js';
import { permissionReplyBodySchema, questionReplyBodySchema, requestParamsSchema, sessionParamsSchema } from '../validation.js';

export function userRequestRoutes(manager: OpencodeProcessManager): Route[] {
  const requireSession = (id: string): void => {
    if (manager.getSession(id) === undefined) throw sessionNotFound(id);
  };
  return [
    defineRoute({
      method: 'get',
      path: '/api/sessions/:id/pending',
      summary: "The permission requests and questions the session's turn waits on",
      security: 'api',
      params: sessionParamsSchema,
      replies: { 200: json('Pending requests', pendingResponseSchema), 404: failure('No such session') },
      handler: ({ params: { id }, res }) => {
        requireSession(id);
        res.json(manager.userRequests.list(id));
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/sessions/:id/permissions/:requestId',
      summary: 'Answer a permission request: once, always or reject',
      security: 'api',
      params: requestParamsSchema,
      body: permissionReplyBodySchema,
      replies: {
        200: json('Answered', permissionAnswerResponseSchema),
        400: failure('Invalid body'),
        404: failure('No such session or pending request'),
        409: failure('Already answered'),
      },
      handler: async ({ params: { id, requestId }, body, res }) => {
        requireSession(id);
        await manager.userRequests.answerPermission(id, requestId, body.reply, body.message);
        res.json({ id: requestId, reply: body.reply });
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/sessions/:id/questions/:requestId',
      summary: 'Answer a question ({ answers }) or decline it ({ reject: true })',
      security: 'api',
      params: requestParamsSchema,
      body: questionReplyBodySchema,
      replies: {
        200: json('Answered', questionAnswerResponseSchema),
        400: failure('Invalid body'),
        404: failure('No such session or pending question'),
        409: failure('Already answered'),
      },
      handler: async ({ params: { id, requestId }, body, res }) => {
        requireSession(id);
        await manager.userRequests.answerQuestion(id, requestId, body);
        res.json({ id: requestId, reply: 'answers' in body ? 'answered' : 'reject' });
      },
    }),
  ];
}
