// Which replica owns a session this one does not hold: remembered once found (so the look-up is not
// paid per message), otherwise asked of every peer at once. A session no reachable peer holds is
// unknown only when no peer is down; while one is, it may be that peer's, and the answer is
// `unavailable` (503 with Retry-After), never a new conversation.
import type { Metrics } from '../metrics/metrics.js';
import type { LookupResult } from '../metrics/cluster-metrics.js';
import type { Peer, Peers } from './peers.js';
import type { PeerClient } from './peer-client.js';

export type Owner = { readonly kind: 'peer'; readonly peer: Peer } | { readonly kind: 'none' } | { readonly kind: 'unavailable'; readonly reason: string };

/** Remembered owners at most; the oldest entry goes first. */
const MAX_REMEMBERED = 100_000;

export class OwnerDirectory {
  /** Session id -> owner's name. */
  private readonly owners = new Map<string, string>();
  private readonly lookups = new Map<string, Promise<Owner>>();

  constructor(
    private readonly peers: Peers,
    private readonly client: PeerClient,
    private readonly metrics: Metrics,
  ) {}

  remember(sessionId: string, ownerName: string): void {
    this.owners.delete(sessionId);
    this.owners.set(sessionId, ownerName);
    if (this.owners.size > MAX_REMEMBERED) this.owners.delete(this.owners.keys().next().value as string);
  }

  forget(sessionId: string): void {
    this.owners.delete(sessionId);
  }

  /** The replica that owns the session; concurrent look-ups of one session share one round of questions. */
  async find(sessionId: string): Promise<Owner> {
    const started = process.hrtime.bigint();
    const done = (owner: Owner, result: LookupResult): Owner => {
      this.metrics.ownerLookup.observe({ result }, Number(process.hrtime.bigint() - started) / 1e9);
      return owner;
    };
    const remembered = this.owners.get(sessionId);
    const peer = remembered === undefined ? undefined : this.peers.byName(remembered);
    if (peer !== undefined && (peer.state === 'up' || peer.state === 'draining')) return done({ kind: 'peer', peer }, 'cache');
    let lookup = this.lookups.get(sessionId);
    if (lookup === undefined) {
      lookup = this.ask(sessionId).finally(() => this.lookups.delete(sessionId));
      this.lookups.set(sessionId, lookup);
    }
    const owner = await lookup;
    return done(owner, owner.kind === 'peer' ? 'peer' : owner.kind);
  }

  private async ask(sessionId: string): Promise<Owner> {
    // Peers marked down are asked too: one that came back since the last probe answers for itself.
    const candidates = this.peers.askable();
    const answers = await Promise.all(
      candidates.map(async (peer) => {
        try {
          return { peer, holds: await this.client.holds(peer.url, sessionId) };
        } catch (error) {
          this.peers.markUnreachable(peer, error);
          return { peer, holds: undefined };
        }
      }),
    );
    const holder = answers.find((answer) => answer.holds === true);
    if (holder !== undefined) {
      if (holder.peer.name !== undefined) this.remember(sessionId, holder.peer.name);
      return { kind: 'peer', peer: holder.peer };
    }
    // Only a peer that answered once and did not leave since can hold a session nobody else has.
    const silent = answers.filter((answer) => answer.holds === undefined && answer.peer.known).map((answer) => answer.peer.name ?? answer.peer.url);
    if (silent.length > 0) return { kind: 'unavailable', reason: `replica ${silent.join(', ')} does not answer and may hold it` };
    return { kind: 'none' };
  }
}
