// The other replicas: from OCPM_PEERS and the A records of OCPM_PEER_DNS, each probed every interval
// for its name and state. A peer that stops answering without having said it left is `down`: it
// may hold sessions nobody else has, so look-ups that find no owner must not treat them as unknown.
import { resolve4 } from 'node:dns/promises';
import { readFileSync, writeFileSync } from 'node:fs';
import type { Logger } from '../logging/logger.js';
import type { PeerState } from '../metrics/cluster-metrics.js';
import { errorMessage } from '../util/guards.js';
import { housekeepingFailed, type Housekeeping } from '../util/housekeeping.js';
import { PeerCallError, type PeerClient } from './peer-client.js';

export interface Peer {
  readonly url: string;
  /** Its OCPM_REPLICA_NAME once it answered a probe. */
  name: string | undefined;
  state: PeerState;
  lastSeenAt: number | null;
  error: string | undefined;
  /** This replica itself (listed in OCPM_PEERS or the DNS records): ignored. */
  self: boolean;
  /**
   * It answered once (now or before a restart of this replica) and has not said it left since, so it
   * may hold sessions. A peer never seen holds none this replica could miss.
   */
  known: boolean;
}

export interface PeerView {
  readonly name: string | null;
  readonly url: string;
  readonly state: PeerState;
  readonly lastSeenAt: number | null;
  readonly error?: string;
}

export interface PeersOptions {
  readonly self: string;
  /** This process's id: a probe answered with it reached this replica itself. */
  readonly bootId: string;
  readonly staticUrls: readonly string[];
  /** `host:port` whose A records are peers. */
  readonly dns: string | undefined;
  readonly client: PeerClient;
  readonly probeIntervalMs: number;
  readonly logger: Logger;
  readonly onChange?: (peers: readonly Peer[]) => void;
  /** Where the peers seen and not left are kept across restarts of this replica. */
  readonly knownFile?: string;
  /** Where a failed periodic probe is counted (`peer_probe`); without it, it is only logged. */
  readonly housekeeping?: Housekeeping;
}

const trimSlash = (url: string): string => url.replace(/\/+$/, '');

export class Peers {
  private readonly peers = new Map<string, Peer>();
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;

  constructor(private readonly options: PeersOptions) {
    for (const url of options.staticUrls) this.add(trimSlash(url));
    // Peers seen before this replica restarted: down until they answer, and they may hold sessions.
    for (const [name, url] of Object.entries(this.loadKnown())) {
      if (name === options.self) continue;
      this.add(url);
      const peer = this.peers.get(url)!;
      peer.name = name;
      peer.known = true;
    }
  }

  private loadKnown(): Record<string, string> {
    if (this.options.knownFile === undefined) return {};
    try {
      return JSON.parse(readFileSync(this.options.knownFile, 'utf8')) as Record<string, string>;
    } catch {
      return {};
    }
  }

  private saveKnown(): void {
    if (this.options.knownFile === undefined) return;
    const known = Object.fromEntries(this.list().flatMap((peer) => (peer.known && peer.name !== undefined ? [[peer.name, peer.url]] : [])));
    try {
      writeFileSync(this.options.knownFile, `${JSON.stringify(known)}\n`);
    } catch (error) {
      this.options.logger.warn('Could not save the known peers', { error: errorMessage(error) });
    }
  }

  /** Probes now (the first answers settle before boot goes on) and then every interval. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => {
      this.refresh().catch((error: unknown) => {
        if (this.options.housekeeping !== undefined) housekeepingFailed(this.options.housekeeping, 'peer_probe', error);
        else this.options.logger.warn('Peer probe failed', { error: errorMessage(error) });
      });
    }, this.options.probeIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Re-resolves the DNS name and probes every peer; concurrent callers share one refresh. */
  refresh(): Promise<void> {
    this.refreshing ??= this.doRefresh().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /** Every peer but this replica. */
  list(): Peer[] {
    return [...this.peers.values()].filter((peer) => !peer.self);
  }

  view(): PeerView[] {
    return this.list().map((peer) => ({
      name: peer.name ?? null,
      url: peer.url,
      state: peer.state,
      lastSeenAt: peer.lastSeenAt,
      ...(peer.error === undefined ? {} : { error: peer.error }),
    }));
  }

  /** Peers that may be asked: everything but the ones that left. */
  askable(): Peer[] {
    return this.list().filter((peer) => peer.state !== 'left');
  }

  /** Peers that take new sessions. */
  up(): Peer[] {
    return this.list().filter((peer) => peer.state === 'up');
  }

  byName(name: string): Peer | undefined {
    return this.list().find((peer) => peer.name === name);
  }

  /** A call to the peer failed for want of an answer: down (unless it left). */
  markUnreachable(peer: Peer, error: unknown): void {
    if (peer.state === 'left') return;
    this.set(peer, 'down', errorMessage(error));
  }

  /** The peer said it handed every session away and is leaving. */
  markLeft(name: string): void {
    for (const peer of this.list()) {
      if (peer.name !== name) continue;
      this.set(peer, 'left', undefined);
      peer.known = false;
    }
    this.saveKnown();
  }

  private add(url: string): void {
    if (!this.peers.has(url))
      this.peers.set(url, { url, name: undefined, state: 'down', lastSeenAt: null, error: 'not probed yet', self: false, known: false });
  }

  private async doRefresh(): Promise<void> {
    if (this.options.dns !== undefined) await this.resolveDns(this.options.dns);
    await Promise.all([...this.peers.values()].filter((peer) => !peer.self).map((peer) => this.probe(peer)));
    this.options.onChange?.(this.list());
  }

  private async resolveDns(target: string): Promise<void> {
    const [host, port] = [target.slice(0, target.lastIndexOf(':')), target.slice(target.lastIndexOf(':') + 1)];
    let addresses: string[];
    try {
      addresses = await resolve4(host);
    } catch (error) {
      // No records (no pod ready yet) or DNS trouble: keep the peers we know.
      this.options.logger.debug('Peer DNS lookup failed', { host, error: errorMessage(error) });
      return;
    }
    const current = new Set(addresses.map((address) => `http://${address}:${port}`));
    for (const url of current) this.add(url);
    // A pod deleted by a scale-in (after it left) leaves the records; one that crashes keeps its
    // record (publishNotReadyAddresses), and one that vanished without leaving stays a known, down
    // peer until it answers again, from any address.
    for (const [url, peer] of [...this.peers.entries()]) {
      if (!current.has(url) && !this.options.staticUrls.map(trimSlash).includes(url) && !peer.known) this.peers.delete(url);
    }
  }

  private async probe(peer: Peer): Promise<void> {
    try {
      const identity = await this.options.client.identity(peer.url);
      // This replica itself (listed among its peers): the same process, not merely the same name.
      if (identity.bootId === this.options.bootId || (identity.bootId === undefined && identity.replica === this.options.self)) {
        peer.self = true;
        return;
      }
      if (identity.replica === this.options.self) {
        // Another replica with our name: owner look-ups and handoffs by name would confuse the two.
        peer.name = undefined;
        this.set(peer, 'name_conflict', `it answers with this replica's own name "${identity.replica}": give each replica its own OCPM_REPLICA_NAME`);
        return;
      }
      // The same replica at a new address (a pod that came back): the old entry goes.
      for (const [url, other] of this.peers) if (url !== peer.url && other.name === identity.replica) this.peers.delete(url);
      peer.name = identity.replica;
      peer.lastSeenAt = Date.now();
      const state: PeerState = identity.left
        ? 'left'
        : identity.state === 'ready'
          ? 'up'
          : identity.state === 'draining' || identity.state === 'stopping'
            ? 'draining'
            : 'down';
      this.set(peer, state, state === 'down' ? `state ${identity.state}` : undefined);
      if (peer.known !== !identity.left) {
        peer.known = !identity.left;
        this.saveKnown();
      }
    } catch (error) {
      if (error instanceof PeerCallError && error.status === 401) {
        this.set(peer, 'unauthorized', 'the peer refused our token: give every replica the same OCPM_PEER_TOKEN (or API token)');
        return;
      }
      this.markUnreachable(peer, error);
    }
  }

  private set(peer: Peer, state: PeerState, error: string | undefined): void {
    if (peer.state !== state) {
      const fields = { peer: peer.name ?? peer.url, from: peer.state, to: state, ...(error === undefined ? {} : { error }) };
      if (state === 'name_conflict') this.options.logger.error(`Peer state changed: ${error ?? 'name conflict'}`, fields);
      else if (state === 'down' || state === 'unauthorized') this.options.logger.warn('Peer state changed', fields);
      else this.options.logger.info('Peer state changed', fields);
    }
    peer.state = state;
    peer.error = error;
  }
}
