// This replica among its peers: who it is, who they are (Peers), which one owns a session
// (OwnerDirectory), the sessions it handed away (so a late request finds them), and the handoff of
// every session to an up peer when it drains.
import { createHash, randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Config } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import type { OpencodeProcessManager } from '../manager/index.js';
import type { Metrics } from '../metrics/metrics.js';
import { PEER_STATES } from '../metrics/cluster-metrics.js';
import { errorMessage } from '../util/guards.js';
import { OwnerDirectory } from './owner-directory.js';
import { PeerClient } from './peer-client.js';
import { Peers, type Peer, type PeerView } from './peers.js';

/** Sessions handed off at once while draining (each runs opencode export here and import there). */
const HANDOFF_CONCURRENCY = 4;

export interface ClusterStatus {
  readonly replica: string;
  readonly peers: PeerView[];
}

/** The peer that takes a session: highest rendezvous hash of (session, peer), so sessions spread evenly. */
export function chooseTarget(sessionId: string, peers: readonly Peer[]): Peer | undefined {
  let best: { peer: Peer; score: string } | undefined;
  for (const peer of peers) {
    const score = createHash('sha256')
      .update(`${sessionId}\0${peer.name ?? peer.url}`)
      .digest('hex');
    if (best === undefined || score > best.score) best = { peer, score };
  }
  return best?.peer;
}

export class Cluster {
  /** This process's own id, in every probe answer: a peer that answers with it is this replica itself. */
  readonly bootId = randomUUID();
  readonly client: PeerClient;
  readonly peers: Peers;
  readonly owners: OwnerDirectory;
  /** True once every session was handed away while draining: peers stop counting on this replica. */
  left = false;
  /** Sessions handed to a peer: id -> its name. */
  private readonly movedTo = new Map<string, string>();
  /** Sessions being handed over now: requests for them wait for the outcome. */
  private readonly moving = new Map<string, Promise<void>>();

  constructor(
    /** This replica's name among its peers. */
    readonly self: string,
    settings: Config['cluster'],
    dataDir: string,
    peerToken: () => string | undefined,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {
    this.client = new PeerClient({ self: this.self, token: peerToken, timeoutMs: settings.peerTimeoutMs });
    this.peers = new Peers({
      self: this.self,
      bootId: this.bootId,
      staticUrls: settings.peers,
      dns: settings.peerDns,
      client: this.client,
      probeIntervalMs: settings.peerProbeIntervalMs,
      logger,
      knownFile: path.join(dataDir, 'known-peers.json'),
      housekeeping: { logger, metrics },
      onChange: (peers) => {
        for (const state of PEER_STATES) metrics.peers.set({ state }, peers.filter((peer) => peer.state === state).length);
      },
    });
    this.owners = new OwnerDirectory(this.peers, this.client, metrics);
  }

  start(): Promise<void> {
    return this.peers.start();
  }

  stop(): void {
    this.peers.stop();
  }

  status(): ClusterStatus {
    return { replica: this.self, peers: this.peers.view() };
  }

  /** The sessions of every peer that may hold some, and the names of those that did not answer. */
  async peerSessions(): Promise<{ sessions: unknown[]; unreachable: string[] }> {
    const peers = this.peers.list().filter((peer) => peer.state !== 'left' && (peer.known || peer.state === 'up' || peer.state === 'draining'));
    const answers = await Promise.all(
      peers.map(async (peer) => {
        try {
          return { peer, sessions: await this.client.sessions(peer.url) };
        } catch {
          return { peer, sessions: undefined };
        }
      }),
    );
    return {
      sessions: answers.flatMap((answer) => answer.sessions ?? []),
      unreachable: answers.filter((answer) => answer.sessions === undefined && answer.peer.known).map((answer) => answer.peer.name ?? answer.peer.url),
    };
  }

  /** The peer this replica handed the session to, if it did. */
  movedOwner(sessionId: string): string | undefined {
    return this.movedTo.get(sessionId);
  }

  /** Resolves when the session is not being handed over (at once, mostly). */
  async settled(sessionId: string): Promise<void> {
    await this.moving.get(sessionId);
  }

  /** The handoff a draining replica does before it stops: every session to an up peer. */
  async handOffAll(manager: OpencodeProcessManager, timeoutMs: number): Promise<void> {
    await this.peers.refresh();
    const ids = manager.sessionIds();
    const started = performance.now();
    let sent = 0;
    let failed = 0;
    const queue = [...ids];
    const worker = async (): Promise<void> => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        const moved = this.handOff(manager, id, timeoutMs);
        this.moving.set(
          id,
          moved.then(() => undefined),
        );
        if (await moved) sent += 1;
        else failed += 1;
        this.moving.delete(id);
      }
    };
    await Promise.all(Array.from({ length: Math.min(HANDOFF_CONCURRENCY, ids.length) }, worker));
    const ms = Math.round(performance.now() - started);
    if (failed > 0) {
      this.logger.warn('Handoff finished; some sessions stay here until this replica is back', { sent, failed, ms });
      return;
    }
    this.logger.info('Handoff finished', { sent, failed, ms });
    this.left = true;
    await Promise.allSettled(this.peers.list().map((peer) => this.client.left(peer.url)));
  }

  /** Hands one session to a peer; false when it stays here (it could not be exported, or no peer took it). */
  private async handOff(manager: OpencodeProcessManager, sessionId: string, timeoutMs: number): Promise<boolean> {
    const started = performance.now();
    const failed = (reason: string, fields: Record<string, unknown> = {}): false => {
      this.metrics.sessionHandoffs.inc({ outcome: 'failed' });
      this.logger.warn(`Session not handed off: ${reason}`, { sessionId, ...fields });
      return false;
    };
    let transfer;
    try {
      transfer = await manager.exportSession(sessionId, timeoutMs);
    } catch (error) {
      return failed('its export failed', { error: errorMessage(error) });
    }
    if (transfer === undefined) return true; // deleted meanwhile: nothing to move
    const tried: string[] = [];
    for (
      let target = chooseTarget(sessionId, this.peers.up());
      target !== undefined;
      target = chooseTarget(
        sessionId,
        this.peers.up().filter((peer) => !tried.includes(peer.url)),
      )
    ) {
      tried.push(target.url);
      try {
        await this.client.handOff(target.url, sessionId, transfer, timeoutMs);
      } catch (error) {
        this.logger.warn('Session handoff to a peer failed', { sessionId, to: target.name, error: errorMessage(error) });
        continue;
      }
      this.movedTo.set(sessionId, target.name!);
      this.owners.remember(sessionId, target.name!);
      await manager.releaseSession(sessionId);
      const ms = Math.round(performance.now() - started);
      this.metrics.sessionHandoffs.inc({ outcome: 'sent' });
      this.metrics.handoffDuration.observe(ms / 1000);
      this.logger.info('Session handed off', { sessionId, to: target.name, ms });
      return true;
    }
    return failed('no peer took it', { tried });
  }
}
