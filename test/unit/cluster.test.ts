// The parts of several replicas that decide things: which peer takes a handed-off session, what
// state a peer is in (probed over real HTTP), which peers are remembered across a restart, and when
// an owner look-up answers "nobody" and when "unavailable".
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chooseTarget } from '../../src/cluster/cluster.js';
import { OwnerDirectory } from '../../src/cluster/owner-directory.js';
import { PeerClient } from '../../src/cluster/peer-client.js';
import { Peers, type Peer } from '../../src/cluster/peers.js';
import { createSilentLogger } from '../../src/logging/logger.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { makeTempDir } from '../helpers/fixtures.js';

const peer = (name: string): Peer => ({ url: `http://${name}`, name, state: 'up', lastSeenAt: 0, error: undefined, self: false, known: true });

/** A stand-in replica over real HTTP: its name, state and sessions can change between calls. */
class FakeReplica {
  state = 'ready';
  left = false;
  sessions = new Set<string>();
  token = 'peer-token';
  /** Its process id (as a replica of this version sends); the default is a replica of its own. */
  bootId = `boot-${Math.random()}`;
  private readonly server = http.createServer((req, res) => {
    if (req.headers.authorization !== `Bearer ${this.token}`) {
      res.writeHead(401).end();
      return;
    }
    const url = req.url ?? '';
    if (url === '/internal/v1/replica') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ replica: this.name, bootId: this.bootId, state: this.state, left: this.left, sessions: this.sessions.size }));
      return;
    }
    const id = /^\/internal\/v1\/sessions\/([^/]+)$/.exec(url)?.[1];
    res.writeHead(id !== undefined && this.sessions.has(id) ? 200 : 404, { 'content-type': 'application/json' }).end('{}');
  });
  constructor(readonly name: string) {}
  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe('chooseTarget', () => {
  it('is stable, spreads sessions evenly, and moves only the sessions of a removed peer', () => {
    const three = [peer('r1'), peer('r2'), peer('r3')];
    const ids = Array.from({ length: 900 }, (_, i) => `s${i}`);
    const before = new Map(ids.map((id) => [id, chooseTarget(id, three)?.name]));
    assert.deepEqual(new Map(ids.map((id) => [id, chooseTarget(id, [...three].reverse())?.name])), before, 'the order of the peers does not matter');
    for (const name of ['r1', 'r2', 'r3']) {
      const share = [...before.values()].filter((n) => n === name).length / ids.length;
      assert.ok(share > 0.25 && share < 0.42, `${name} takes ${share}`);
    }
    const two = three.filter((p) => p.name !== 'r2');
    for (const id of ids) if (before.get(id) !== 'r2') assert.equal(chooseTarget(id, two)?.name, before.get(id));
    assert.equal(chooseTarget('s1', []), undefined);
  });
});

describe('peers and owner look-ups over real HTTP', () => {
  const logger = createSilentLogger();
  const replicas = [new FakeReplica('r2'), new FakeReplica('r3')];
  const urls: string[] = [];
  let dir = '';
  let remove: () => Promise<void> = () => Promise.resolve();
  const client = new PeerClient({ self: 'r1', token: () => 'peer-token', timeoutMs: 1000 });

  before(async () => {
    for (const replica of replicas) urls.push(await replica.listen());
    ({ dir, remove } = await makeTempDir('peers'));
  });
  after(async () => {
    for (const replica of replicas) await replica.close().catch(() => undefined);
    await remove();
  });

  const newPeers = (staticUrls: string[]): Peers =>
    new Peers({
      self: 'r1',
      bootId: 'boot-r1',
      staticUrls,
      dns: undefined,
      client,
      probeIntervalMs: 60_000,
      logger,
      knownFile: path.join(dir, 'known-peers.json'),
    });
  const states = (peers: Peers): string[] => peers.view().map((p) => `${p.name ?? p.url}=${p.state}`);

  it('reports another replica that answers with its name (another boot id) as name_conflict, never as itself', async () => {
    const namesake = new FakeReplica('r1');
    const namesakeUrl = await namesake.listen();
    try {
      const peers = newPeers([urls[0]!, namesakeUrl]);
      await peers.refresh();
      assert.deepEqual(states(peers), ['r2=up', `${namesakeUrl}=name_conflict`]);
      assert.match(peers.view()[1]?.error ?? '', /answers with this replica's own name "r1": give each replica its own OCPM_REPLICA_NAME/);
      assert.equal(peers.up().length, 1);
    } finally {
      await namesake.close();
    }
  });

  it('probes each peer for its name and state, recognises itself, and flags a wrong token', async () => {
    const self = new FakeReplica('r1');
    self.bootId = 'boot-r1';
    const selfUrl = await self.listen();
    try {
      const peers = newPeers([...urls, selfUrl]);
      await peers.refresh();
      assert.deepEqual(states(peers), ['r2=up', 'r3=up']);
      replicas[0]!.state = 'draining';
      replicas[1]!.token = 'another';
      await peers.refresh();
      assert.deepEqual(states(peers), ['r2=draining', 'r3=unauthorized']);
    } finally {
      replicas[0]!.state = 'ready';
      replicas[1]!.token = 'peer-token';
      await self.close();
    }
  });

  it('finds the owner once and then remembers it; nobody holds an unknown session when every peer answers', async () => {
    const peers = newPeers(urls);
    await peers.refresh();
    const metrics = createMetrics({ collectDefault: false });
    const owners = new OwnerDirectory(peers, client, metrics);
    replicas[1]!.sessions.add('s1');
    const found = await owners.find('s1');
    assert.equal(found.kind === 'peer' ? found.peer.name : found.kind, 'r3');
    assert.equal((await owners.find('s1')).kind, 'peer');
    const text = await metrics.registry.metrics();
    assert.match(text, /opencode_manager_owner_lookup_seconds_count\{result="peer"\} 1/);
    assert.match(text, /opencode_manager_owner_lookup_seconds_count\{result="cache"\} 1/);
    assert.deepEqual(await owners.find('nobody'), { kind: 'none' });
  });

  it('a known peer that stops answering makes an unknown session unavailable; one never seen, or one that left, does not', async () => {
    const late = new FakeReplica('r4');
    const lateUrl = await late.listen();
    await late.close(); // configured, never up
    const peers = newPeers([...urls, lateUrl]);
    await peers.refresh();
    const owners = new OwnerDirectory(peers, client, createMetrics({ collectDefault: false }));
    assert.deepEqual(await owners.find('nobody'), { kind: 'none' }, 'a peer never seen holds nothing');

    await replicas[0]!.close();
    const lost = await owners.find('nobody');
    assert.equal(lost.kind, 'unavailable');
    // After a restart of this replica the peer is still known (known-peers.json), so still unavailable.
    const restarted = newPeers([...urls, lateUrl]);
    assert.equal((await new OwnerDirectory(restarted, client, createMetrics({ collectDefault: false })).find('nobody')).kind, 'unavailable');
    // Once it said it left, it holds nothing any more.
    peers.markLeft('r2');
    assert.deepEqual(await owners.find('nobody'), { kind: 'none' });
  });
});
