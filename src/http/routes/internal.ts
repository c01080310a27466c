// Replica-to-replica routes (mounted only when the replica has peers): who this replica is, whether
// it holds a session, a session handed over by a draining peer, and a peer saying it left. Peers
// authenticate with OCPM_PEER_TOKEN, or an API token when that is unset.
import express, { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import type { Cluster } from '../../cluster/cluster.js';
import { OcpmError } from '../../errors/errors.js';
import { sessionNotHeld } from '../../errors/factories.js';
import type { Logger } from '../../logging/logger.js';
import { sessionTransferSchema } from '../../contracts/session.js';
import type { OpencodeProcessManager } from '../../manager/index.js';
import type { Metrics } from '../../metrics/metrics.js';
import { failure } from '../replies.js';
import { defineRoute, mountRoutes, type Route } from '../route-table.js';
import { ignoredQuerySchema, sessionParamsSchema } from '../validation.js';

/** A handed-over conversation can be far larger than a message. */
const HANDOFF_BODY_LIMIT = '64mb';

const leftBodySchema = z.object({ replica: z.string().min(1).max(253) });

export interface InternalRouteDeps {
  readonly manager: OpencodeProcessManager;
  readonly cluster: Cluster;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly handoffTimeoutMs: number;
  /** The real path of OCPM_WORKSPACE_ROOT: a handed-over workspace must be inside it. */
  readonly workspaceRoot: string;
}

const peerJson = (description: string) => ({ description, contentType: 'application/json' });

export function internalRoutes(deps: InternalRouteDeps): Route[] {
  const { manager, cluster } = deps;
  // Peers call these with no query string; whatever they send is ignored, as it always was.
  const internal = { security: 'peer', query: ignoredQuerySchema } as const;
  return [
    defineRoute({
      ...internal,
      method: 'get',
      path: '/internal/v1/replica',
      summary: 'Who this replica is: name, boot id, state, whether it left, how many sessions it holds',
      replies: { 200: peerJson('This replica') },
      handler: ({ res }) => {
        res.json({ replica: cluster.self, bootId: cluster.bootId, state: manager.state, left: cluster.left, sessions: manager.sessionIds().length });
      },
    }),
    defineRoute({
      ...internal,
      method: 'get',
      path: '/internal/v1/sessions',
      summary: "This replica's sessions, for a peer's list",
      replies: { 200: peerJson('The sessions') },
      handler: ({ res }) => {
        res.json({ sessions: manager.listSessions() });
      },
    }),
    defineRoute({
      ...internal,
      method: 'get',
      path: '/internal/v1/sessions/:id',
      summary: 'Whether this replica holds the session (once a handoff to it has settled)',
      params: sessionParamsSchema,
      replies: { 200: peerJson('Held here'), 404: failure('Not held here') },
      handler: async ({ params: { id }, res }) => {
        await cluster.settled(id);
        if (manager.getSession(id) === undefined) throw sessionNotHeld(cluster.self, id);
        res.json({ replica: cluster.self, sessionId: id });
      },
    }),
    defineRoute({
      ...internal,
      method: 'post',
      path: '/internal/v1/sessions/:id/handoff',
      summary: 'Take over a session from a draining peer: its record, turns, conversation and database',
      params: sessionParamsSchema,
      body: sessionTransferSchema,
      replies: { 200: peerJson('Taken over'), 400: failure('Invalid transfer or workspace'), 503: failure('This replica is not ready') },
      handler: async ({ params: { id }, body, req, res }) => {
        const transfer = body;
        if (transfer.record.id !== id) throw new OcpmError('invalid_request', 'body.record.id differs from the path');
        if (!transfer.record.workspace.startsWith(`${deps.workspaceRoot}/`))
          throw new OcpmError('invalid_workspace', "The workspace is not inside this replica's OCPM_WORKSPACE_ROOT");
        if (manager.state !== 'ready') throw new OcpmError('draining', `Replica ${cluster.self} is ${manager.state} and takes no sessions`);
        const started = performance.now();
        await manager.importSession(transfer, deps.handoffTimeoutMs);
        cluster.owners.forget(id);
        deps.metrics.sessionHandoffs.inc({ outcome: 'received' });
        deps.logger.info('Session received from a peer', { sessionId: id, from: req.get('x-ocpm-peer'), ms: Math.round(performance.now() - started) });
        res.json({ replica: cluster.self, sessionId: id });
      },
    }),
    defineRoute({
      ...internal,
      method: 'post',
      path: '/internal/v1/peers/left',
      summary: 'A peer says it left the cluster',
      body: leftBodySchema,
      replies: { 204: { description: 'Noted' }, 400: failure('Invalid body') },
      handler: ({ body: { replica }, res }) => {
        cluster.peers.markLeft(replica);
        res.status(204).end();
      },
    }),
  ];
}

/**
 * The replica routes behind the peer token and their own body parser (a handed-over conversation
 * can be far larger than a message): mounted before the API's parser, so it never reads them first.
 */
export function internalRouter(peerAuth: RequestHandler, routes: readonly Route[]): Router {
  const router = Router();
  router.use('/internal/v1', peerAuth, express.json({ limit: HANDOFF_BODY_LIMIT, strict: true }));
  return mountRoutes(router, routes);
}
