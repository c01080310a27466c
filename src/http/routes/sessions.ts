// Session registry routes: PUT (create/update), GET list (filtered by state, paged) and one, reset
// (unsticks a session, keeps its record), DELETE (aborts the running turn).
import { OcpmError } from '../../errors/errors.js';
import { sessionNotFound } from '../../errors/factories.js';
import type { OpencodeProcessManager } from '../../manager/index.js';
import { resolveWorkspace } from '../../workspace/resolve-workspace.js';
import { sessionListResponseSchema, sessionResponseSchema } from '../api-schemas.js';
import { failure, json } from '../replies.js';
import { defineRoute, type Route } from '../route-table.js';
import { pageSessions } from '../session-page.js';
import { deleteSessionQuerySchema, listSessionsQuerySchema, putSessionBodySchema, sessionParamsSchema } from '../validation.js';

export interface SessionRouteDeps {
  readonly manager: OpencodeProcessManager;
  /** The real path of OCPM_WORKSPACE_ROOT. */
  readonly workspaceRoot: string;
  /** OCPM_AUTO_CREATE_WORKSPACES: a PUT without a workspace gets `<root>/<session id>`. */
  readonly autoCreateWorkspaces: boolean;
  /** With peers: the sessions the other replicas hold, for the list. */
  readonly peerSessions?: () => Promise<{ sessions: unknown[]; unreachable: string[] }>;
}

export function sessionRoutes(deps: SessionRouteDeps): Route[] {
  const { manager } = deps;
  const notFound = failure('No such session');
  return [
    defineRoute({
      method: 'put',
      path: '/api/sessions/:id',
      summary: 'Register or update a session and its workspace',
      security: 'api',
      params: sessionParamsSchema,
      body: putSessionBodySchema,
      absentBody: {},
      replies: {
        200: json('Updated', sessionResponseSchema),
        201: json('Created', sessionResponseSchema),
        400: failure('Invalid id, body or workspace'),
        409: failure('Busy, or workspace used by another session'),
      },
      handler: async ({ params: { id }, body, res }) => {
        if (body.workspace === undefined && !deps.autoCreateWorkspaces) {
          throw new OcpmError('invalid_workspace', 'body.workspace is required (or set OCPM_AUTO_CREATE_WORKSPACES=true to get <root>/<session id>)');
        }
        // The session id matches [A-Za-z0-9_-]+, so as a workspace name it cannot leave the root.
        const workspace = await resolveWorkspace(deps.workspaceRoot, body.workspace ?? id);
        const { session, created } = manager.registerSession(id, workspace);
        res.status(created ? 201 : 200).json(session);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/sessions',
      summary: 'List sessions: filtered by state, in id order, one page at a time',
      security: 'api',
      query: listSessionsQuerySchema,
      replies: { 200: json('One page of the sessions', sessionListResponseSchema), 400: failure('Invalid state, limit or offset') },
      handler: async ({ query, res }) => {
        const local = manager.listSessions();
        if (deps.peerSessions === undefined) {
          res.json(pageSessions(local, query));
          return;
        }
        const remote = await deps.peerSessions();
        const seen = new Set(local.map((session) => session.id));
        const others = remote.sessions.filter((session): session is { id: string } => {
          const id = (session as { id?: unknown }).id;
          if (typeof id !== 'string' || seen.has(id)) return false;
          seen.add(id);
          return true;
        });
        res.json({
          ...pageSessions<{ id: string; state?: unknown }>([...local, ...others], query),
          ...(remote.unreachable.length > 0 ? { unreachableReplicas: remote.unreachable } : {}),
        });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/sessions/:id',
      summary: 'One session',
      security: 'api',
      params: sessionParamsSchema,
      replies: { 200: json('The session', sessionResponseSchema), 404: notFound },
      handler: ({ params: { id }, res }) => {
        const session = manager.getSession(id);
        if (session === undefined) throw sessionNotFound(id);
        res.json(session);
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/sessions/:id/usage/reset',
      summary: "Start a session's usage over (and so its budgets): its new messages are taken again",
      security: 'api',
      params: sessionParamsSchema,
      replies: { 200: json('The session, its usage zeroed', sessionResponseSchema), 404: notFound },
      handler: ({ params: { id }, res }) => {
        const session = manager.resetUsage(id);
        if (session === undefined) throw sessionNotFound(id);
        res.json(session);
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/api/sessions/:id',
      summary: 'Delete a session (aborts its turn; purge=true also deletes its workspace and conversation)',
      security: 'api',
      params: sessionParamsSchema,
      query: deleteSessionQuerySchema,
      replies: { 204: { description: 'Deleted' }, 404: notFound },
      handler: async ({ params: { id }, query: { purge }, res }) => {
        if (!(await manager.deleteSession(id, { purge: purge === 'true' }))) throw sessionNotFound(id);
        res.status(204).end();
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/sessions/:id/reset',
      summary:
        'Reset a stuck session: abort its turn and queued messages, reject its pending requests, forget its opencode conversation (record, workspace and history stay)',
      security: 'api',
      params: sessionParamsSchema,
      replies: { 200: json('The session after the reset', sessionResponseSchema), 404: notFound },
      handler: async ({ params: { id }, res }) => {
        const session = await manager.resetSession(id);
        if (session === undefined) throw sessionNotFound(id);
        res.json(session);
      },
    }),
  ];
}
