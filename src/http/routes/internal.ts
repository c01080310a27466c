// Replica-to-replica routes (mounted only when the replica has peers): who this replica is, whether
// it holds a session, a session handed over by a draining peer, and a peer saying it left. Peers
// authenticate with OCPM_PEER_TOKEN, or an API token when that is unset.
import express, { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import type { Cluster } from '../../cluster/cluster.js';
import { OcpmError } from '../../errors/errors.js';
import type { Logger } from '../../logging/logger.js';
import type { OpencodeProcessManager, SessionTransfer } from '../../manager/opencode-process-manager.js';
import type { Metrics } from '../../metrics/metrics.js';
import { parse, sessionIdSchema, sessionParamsSchema } from '../validation.js';

/** A handed-over conversation can be far larger than a message. */
const HANDOFF_BODY_LIMIT = '64mb';

const transferSchema = z.object({
  record: z.object({
    id: sessionIdSchema,
    workspace: z.string().min(1),
    opencodeSessionId: z.string().nullable(),
    messageCount: z.number().int().min(0),
    createdAt: z.number(),
    lastActivity: z.number(),
    lastMessageAt: z.number().nullable(),
    usage: z.unknown().optional(),
  }),
  turns: z.array(z.looseObject({ sessionId: z.string(), status: z.string(), startedAt: z.number() })),
  conversation: z.unknown(),
  database: z.string().optional(),
});

export interface InternalRouteDeps {
  readonly manager: OpencodeProcessManager;
  readonly cluster: Cluster;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly peerAuth: RequestHandler;
  readonly handoffTimeoutMs: number;
  /** The real path of OCPM_WORKSPACE_ROOT: a handed-over workspace must be inside it. */
  readonly workspaceRoot: string;
}

export function internalRoutes(deps: InternalRouteDeps): Router {
  const router = Router();
  const { manager, cluster } = deps;
  router.use('/internal/v1', deps.peerAuth, express.json({ limit: HANDOFF_BODY_LIMIT, strict: true }));

  router.get('/internal/v1/replica', (_req, res) => {
    res.json({ replica: cluster.self, bootId: cluster.bootId, state: manager.state, left: cluster.left, sessions: manager.sessionIds().length });
  });

  router.get('/internal/v1/sessions', (_req, res) => {
    res.json({ sessions: manager.listSessions() });
  });

  router.get('/internal/v1/sessions/:id', async (req, res) => {
    const { id } = parse(sessionParamsSchema, req.params, 'params');
    await cluster.settled(id);
    if (manager.getSession(id) === undefined) throw new OcpmError('session_not_found', `Replica ${cluster.self} does not hold session ${id}`);
    res.json({ replica: cluster.self, sessionId: id });
  });

  router.post('/internal/v1/sessions/:id/handoff', async (req, res) => {
    const { id } = parse(sessionParamsSchema, req.params, 'params');
    const transfer = parse(transferSchema, req.body, 'body') as unknown as SessionTransfer;
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
  });

  router.post('/internal/v1/peers/left', (req, res) => {
    const { replica } = parse(z.object({ replica: z.string().min(1).max(253) }), req.body, 'body');
    cluster.peers.markLeft(replica);
    res.status(204).end();
  });

  return router;
}
