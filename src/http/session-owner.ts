// Sends a request for a session this replica does not hold to the replica that does (Cluster finds
// it), so any replica answers for any session and hash routing only saves a hop. A session whose
// owner may be a peer that does not answer gets 503 `session_unavailable`, never a new conversation.
// Refusals are thrown: the app's error handler answers them (Retry-After from the error).
import type { RequestHandler } from 'express';
import type { Cluster } from '../cluster/cluster.js';
import { notOwner, sessionUnavailable } from '../errors/factories.js';
import { FORWARDED_BY_HEADER, forwardRequest } from '../cluster/forward.js';
import type { Peer } from '../cluster/peers.js';
import type { Logger } from '../logging/logger.js';
import type { OpencodeProcessManager } from '../manager/index.js';
import type { Metrics } from '../metrics/metrics.js';
import { sessionIdSchema } from './validation.js';

/** How long a client waits before asking again for a session whose owner does not answer. */
const UNAVAILABLE_RETRY_AFTER_S = 5;
/** Forward attempts per request: a stale connection, a session that moved meanwhile, then give up. */
const MAX_ATTEMPTS = 3;

export interface SessionOwnerDeps {
  readonly manager: OpencodeProcessManager;
  readonly cluster: Cluster;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly connectTimeoutMs: number;
}

/** Mounted on /api/sessions/:id after authentication and body parsing, before the session routes. */
export function routeToOwner(deps: SessionOwnerDeps): RequestHandler {
  const { manager, cluster, metrics } = deps;
  return async (req, res, next) => {
    const id = String(req.params.id ?? '');
    if (!sessionIdSchema.safeParse(id).success) return next();
    await cluster.settled(id);
    if (manager.getSession(id) !== undefined) return next();
    // A peer forwarded this: it thought the session is here. It asks again; it never loops through us.
    if (req.get(FORWARDED_BY_HEADER) !== undefined) throw notOwner(cluster.self, id);
    let unreachable: Peer | undefined;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
      const moved = cluster.movedOwner(id);
      const movedPeer = moved === undefined ? undefined : cluster.peers.byName(moved);
      const owner = movedPeer !== undefined && movedPeer.state === 'up' ? { kind: 'peer' as const, peer: movedPeer } : await cluster.owners.find(id);
      if (owner.kind === 'none') return next();
      if (owner.kind === 'unavailable') {
        metrics.forwardedRequests.inc({ outcome: 'unavailable' });
        throw sessionUnavailable(id, owner.reason, UNAVAILABLE_RETRY_AFTER_S);
      }
      const result = await forwardRequest(req, res, owner.peer.url, cluster.self, deps.connectTimeoutMs);
      if (result.kind === 'relayed') {
        metrics.forwardedRequests.inc({ outcome: 'ok' });
        metrics.forwardDuration.observe(result.headersMs / 1000);
        return;
      }
      if (result.kind === 'not_owner') {
        metrics.forwardedRequests.inc({ outcome: 'retried' });
        cluster.owners.forget(id);
        continue;
      }
      // Unreachable: once may be a stale kept-alive connection; twice, the peer is down.
      metrics.forwardedRequests.inc({ outcome: 'unreachable' });
      if (unreachable === owner.peer) {
        cluster.peers.markUnreachable(owner.peer, result.error);
        cluster.owners.forget(id);
      }
      unreachable = owner.peer;
      deps.logger.warn('Forward to the owner failed', { sessionId: id, owner: owner.peer.name ?? owner.peer.url, error: result.error.message });
    }
    metrics.forwardedRequests.inc({ outcome: 'unavailable' });
    throw sessionUnavailable(id, 'its owner could not be reached', UNAVAILABLE_RETRY_AFTER_S);
  };
}
