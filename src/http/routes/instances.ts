// Operator routes on the server pool's instances: a drained restart of one instance.
import { Router } from 'express';
import { OcpmError } from '../../errors/errors.js';
import type { OpencodeProcessManager } from '../../manager/opencode-process-manager.js';
import { instanceParamsSchema, noBodySchema, parse, restartInstanceQuerySchema } from '../validation.js';

export function instanceRoutes(manager: OpencodeProcessManager): Router {
  const router = Router();

  router.post('/api/instances/:name/restart', async (req, res) => {
    const { name } = parse(instanceParamsSchema, req.params, 'params');
    const { timeoutMs } = parse(restartInstanceQuerySchema, req.query, 'query');
    parse(noBodySchema, req.body, 'body');
    const status = await manager.restartInstance(name, timeoutMs);
    if (status === undefined) throw new OcpmError('instance_not_found', `No server instance ${name}`);
    res.json(status);
  });

  return router;
}
