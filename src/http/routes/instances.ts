// Operator routes on the server pool's instances: a drained restart of one instance.
import { instanceNotFound } from '../../errors/factories.js';
import type { OpencodeProcessManager } from '../../manager/index.js';
import { instanceStatusResponseSchema } from '../api-schemas.js';
import { failure, json } from '../replies.js';
import { defineRoute, type Route } from '../route-table.js';
import { instanceParamsSchema, restartInstanceQuerySchema } from '../validation.js';

export function instanceRoutes(manager: OpencodeProcessManager): Route[] {
  return [
    defineRoute({
      method: 'post',
      path: '/api/instances/:name/restart',
      summary:
        "Drain and restart one opencode server instance (this replica's): no new turn goes to it, its running turns get timeoutMs to finish, then it is replaced; answers once the new instance is ready",
      security: 'api',
      params: instanceParamsSchema,
      query: restartInstanceQuerySchema,
      replies: {
        200: json(
          'The instance after the restart (state ready, or backoff/failed with lastError when the new one did not start)',
          instanceStatusResponseSchema,
        ),
        400: failure('Invalid name or timeoutMs'),
        404: failure('No such instance'),
        409: failure('No server pool (not_server_mode), or an idle isolated slot (instance_idle)'),
      },
      handler: async ({ params: { name }, query: { timeoutMs }, res }) => {
        const status = await manager.restartInstance(name, timeoutMs);
        if (status === undefined) throw instanceNotFound(name);
        res.json(status);
      },
    }),
  ];
}
