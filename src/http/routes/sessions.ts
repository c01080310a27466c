// Session registry routes: PUT (create/update), GET list (filtered by state, paged) and one, reset
// (unsticks a session, keeps its record), DELETE (aborts the running turn).
import { Router } from 'express';
import { OcpmError } from '../../errors/errors.js';
import type { OpencodeProcessManager } from '../../manager/opencode-process-manager.js';
import { resolveWorkspace } from '../../workspace/resolve-workspace.js';
import { pageSessions } from '../session-page.js';
import {
  deleteSessionQuerySchema,
  listSessionsQuerySchema,
  noBodySchema,
  noQuerySchema,
  parse,
  putSessionBodySchema,
  sessionParamsSchema,
} from '../validation.js';

export interface SessionRouteDeps {
  readonly manager: OpencodeProcessManager;
  /** The real path of OCPM_WORKSPACE_ROOT. */
  readonly workspaceRoot: string;
  /** OCPM_AUTO_CREATE_WORKSPACES: a PUT without a workspace gets `<root>/<session id>`. */
  readonly autoCreateWorkspaces: boolean;
  /** With peers: the sessions the other replicas hold, for the list. */
  readonly peerSessions?: () => Promise<{ sessions: unknown[]; unreachable: string[] }>;
}

export function sessionRoutes(deps: SessionRouteDeps): Router {
  const router = Router();
  const { manager } = deps;

  router.put('/api/sessions/:id', async (req, res) => {
    const { id } = parse(sessionParamsSchema, req.params, 'params');
    parse(noQuerySchema, req.query, 'query');
    const body = parse(putSessionBodySchema, req.body ?? {}, 'body');
    if (body.workspace === undefined && !deps.autoCreateWorkspaces) {
      throw new OcpmError('invalid_workspace', 'body.workspace is required (or set OCPM_AUTO_CREATE_WORKSPACES=true to get <root>/<session id>)');
    }
    // The session id matches [A-Za-z0-9_-]+, so as a workspace name it cannot leave the root.
    const workspace = await resolveWorkspace(deps.workspaceRoot, body.workspace ?? id);
    const { session, created } = manager.registerSession(id, workspace);
    res.status(created ? 201 : 200).json(session);
  });

  router.get('/api/sessions', async (req, res) => {
    const query = parse(listSessionsQuerySchema, req.query, 'query');
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
  });

  router.get('/api/sessions/:id', (req, res) => {
    const { id } = parse(sessionParamsSchema, req.params, 'params');
    parse(noQuerySchema, req.query, 'query');
    const session = manager.getSession(id);
    if (session === undefined) throw new OcpmError('session_not_found', `No session ${id}`);
    res.json(session);
  });

  router.post('/api/sessions/:id/usage/reset', (req, res) => {
    const { id } = parse(sessionParamsSchema, req.params, 'params');
    parse(noQuerySchema, req.query, 'query');
    parse(noBodySchema, req.body, 'body');
    const session = manager.resetUsage(id);
    if (session === undefined) throw new OcpmError('session_not_found', `No session ${id}`);
    res.json(session);
  });

  router.post('/api/sessions/:id/reset', async (req, res) => {
    const { id } = parse(sessionParamsSchema, req.params, 'params');
    parse(noQuerySchema, req.query, 'query');
    parse(noBodySchema, req.body, 'body');
    const session = await manager.resetSession(id);
    if (session === undefined) throw new OcpmError('session_not_found', `No session ${id}`);
    res.json(session);
  });

  router.delete('/api/sessions/:id', async (req, res) => {
    const { id } = parse(sessionParamsSchema, req.params, 'params');
    const { purge } = parse(deleteSessionQuerySchema, req.query, 'query');
    parse(noBodySchema, req.body, 'body');
    if (!(await manager.deleteSession(id, { purge: purge === 'true' }))) throw new OcpmError('session_not_found', `No session ${id}`);
    res.status(204).end();
  });

  return router;
}
