// Several replicas: requests forwarded to a session's owner, owner look-ups, sessions handed to a
// peer on drain, and the peers' states.
import client from 'prom-client';
import type { MetricScope } from './metric-kit.js';

/** What became of a request forwarded to the replica that owns its session. */
export const FORWARD_OUTCOMES = ['ok', 'retried', 'unreachable', 'unavailable'] as const;
export type ForwardOutcome = (typeof FORWARD_OUTCOMES)[number];

/** `sent` and `received` are sessions that moved; `failed` stayed with the replica that tried to send it. */
export const HANDOFF_OUTCOMES = ['sent', 'received', 'failed'] as const;
export type HandoffOutcome = (typeof HANDOFF_OUTCOMES)[number];

/** How an owner look-up ended: from the cache, found at a peer, held by nobody, or unknown while a peer is down. */
export const LOOKUP_RESULTS = ['cache', 'peer', 'none', 'unavailable'] as const;
export type LookupResult = (typeof LOOKUP_RESULTS)[number];

export { PEER_STATES, type PeerState } from '../contracts/vocabulary.js';
import { PEER_STATES } from '../contracts/vocabulary.js';

export function createClusterMetrics(scope: MetricScope) {
  const registers = [scope.registry];
  const forwardedRequests = new client.Counter({
    name: 'opencode_manager_forwarded_requests_total',
    help: 'Requests for a session another replica owns, forwarded to it, by outcome.',
    labelNames: ['outcome'] as const,
    registers,
  });
  const forwardDuration = new client.Histogram({
    name: 'opencode_manager_forward_duration_seconds',
    help: 'Time from forwarding a request to the owner until its response headers came back.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
    registers,
  });
  const sessionHandoffs = new client.Counter({
    name: 'opencode_manager_session_handoffs_total',
    help: 'Sessions handed from a draining replica to a peer (sent, received) or kept because the handoff failed.',
    labelNames: ['outcome'] as const,
    registers,
  });
  const handoffDuration = new client.Histogram({
    name: 'opencode_manager_session_handoff_seconds',
    help: 'Time to hand one session to a peer: export of its conversation, transfer, import at the peer.',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers,
  });
  const ownerLookup = new client.Histogram({
    name: 'opencode_manager_owner_lookup_seconds',
    help: 'Time to find which replica owns a session this replica does not hold, by result.',
    labelNames: ['result'] as const,
    buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 3],
    registers,
  });
  const peers = new client.Gauge({
    name: 'opencode_manager_peers',
    help: "Peer replicas by state (up, draining, down, left, unauthorized, name_conflict: it answers with this replica's own name).",
    labelNames: ['state'] as const,
    registers,
  });
  for (const outcome of FORWARD_OUTCOMES) forwardedRequests.inc({ outcome }, 0);
  for (const outcome of HANDOFF_OUTCOMES) sessionHandoffs.inc({ outcome }, 0);
  for (const state of PEER_STATES) peers.set({ state }, 0);
  for (const result of LOOKUP_RESULTS) ownerLookup.zero({ result });
  return { forwardedRequests, forwardDuration, sessionHandoffs, handoffDuration, ownerLookup, peers };
}
