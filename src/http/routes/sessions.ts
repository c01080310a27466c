// Session registry routes: PUT (create/update), GET list/one, DELETE (aborts the running turn).
import { Router } from 'express';
import { OcpmError } from '../../errors/errors.js';
import type { OpencodeProcessManager } from '../../manager/opencode-process-manager.js';
import { resolveWorkspace } from '../../workspace/resolve-workspace.js';
import { requireJsonBody } from '../require-json.js';
import { parse, putSessionBodySchema, sessionParamsSchema } from '../validation.js';

export function sessionRoutes(deps: { manager: OpencodeProcessManager; workspaceRoot: string }): Router {
  const router = Router();
  const { manager } = deps;

  router.put('/api/sessions/:id', requireJsonBody, async (req, res) => {
    const { id } = parse(sessionParamsSchema, req.params, 'params');
    const body = parse(putSessionBodySchema, req.body, 'body');
    const workspace = await resolveWorkspace(deps.workspaceRoot, body.workspace);
    const { session, created } = manager.registerSession(id, workspace);
    res.status(created ? 201 : 200).json(session);
  });

  router.get('/api/sessions', (_req, res) => {
    res.json({ sessions: manager.listSessions() });
  });

  router.get('/api/sessions/:id', (req, res) => {
    const { id } = parse(sessionParamsSchema, req.params, 'params');
    const session = manager.getSession(id);
    if (session === undefined) throw new OcpmError('session_not_found', `No session ${id}`);
    res.json(session);
  });

  router.delete('/api/sessions/:id', async (req, res) => {
    const { id } = parse(sessionParamsSchema, req.params, 'params');
    if (!(await manager.deleteSession(id))) throw new OcpmError('session_not_found', `No session ${id}`);
    res.status(204).end();
  });

  return router;
}
