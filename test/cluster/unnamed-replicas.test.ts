// Two replicas on one host with only OCPM_PEERS (no OCPM_REPLICA_NAME): each names itself by its
// hostname and port, so they find each other, forward requests and hand a session off. A third
// started with the first one's name is reported as a name conflict (status, log, metric), never
// taken for the replica itself.
import assert from 'node:assert/strict';
import os from 'node:os';
import { after, before, describe, it } from 'node:test';
import { makeTempDir } from '../helpers/fixtures.js';
import { call } from '../helpers/http.js';
import { sample } from '../helpers/metrics-text.js';
import { freeLoopbackPorts, holdPort } from '../helpers/replica-cluster.js';
import { startTestService, type TestService } from '../helpers/test-service.js';
import { waitFor } from '../helpers/wait-for.js';

interface PeerView {
  name: string | null;
  url: string;
  state: string;
  error?: string;
}

const peersOf = async (svc: TestService): Promise<PeerView[]> => (await call(`${svc.url}/api/opencode/status`, 'GET')).body.peers as PeerView[];

describe('two unnamed replicas on one host', () => {
  let a: TestService | undefined;
  let b: TestService;
  let ports: number[] = [];
  let temp: { dir: string; remove: () => Promise<void> };
  /** The third port, started on in the last test: taken until then. */
  let third: { release: () => Promise<void> } | undefined;
  const common = (): Record<string, string> => ({
    OCPM_PEERS: ports.map((port) => `http://127.0.0.1:${port}`).join(','),
    OCPM_WORKSPACE_ROOT: `${temp.dir}/workspaces`,
    OCPM_AUTO_CREATE_WORKSPACES: 'true',
    OCPM_PEER_PROBE_INTERVAL_MS: '200',
  });

  before(async () => {
    temp = await makeTempDir('unnamed-replicas');
    ports = await freeLoopbackPorts(3);
    third = await holdPort(ports[2]!);
    a = await startTestService({ ...common(), PORT: String(ports[0]) });
    b = await startTestService({ ...common(), PORT: String(ports[1]) });
    for (const svc of [a, b]) await waitFor(`${svc.url} sees its peer up`, async () => (await peersOf(svc)).some((peer) => peer.state === 'up'));
  });
  after(async () => {
    await third?.release();
    await a?.close().catch(() => undefined);
    await b?.close().catch(() => undefined);
    await temp?.remove();
  });

  it('each is named by its hostname and port, and lists the other', async () => {
    const host = os.hostname();
    const status = await call(`${b.url}/api/opencode/status`, 'GET');
    assert.equal(status.body.replica, `${host}-${ports[1]}`);
    // The third address (started below) does not answer yet.
    assert.deepEqual(
      (status.body.peers as PeerView[]).map((peer) => [peer.name, peer.state]),
      [
        [`${host}-${ports[0]}`, 'up'],
        [null, 'down'],
      ],
    );
  });

  it('a session of one answers through the other, and moves to it when its replica stops', async () => {
    assert.equal((await call(`${a!.url}/api/sessions/u1`, 'PUT', {})).status, 201);
    const through = await call(`${b.url}/api/sessions/u1/messages`, 'POST', { text: 'hello' });
    assert.equal(through.status, 200, JSON.stringify(through.body));
    assert.equal(through.headers.get('x-ocpm-replica'), `${os.hostname()}-${ports[0]}`);
    await a!.close();
    a = undefined;
    const after = await call(`${b.url}/api/sessions/u1/messages`, 'POST', { text: 'again' });
    assert.equal(after.status, 200, JSON.stringify(after.body));
    assert.equal(after.headers.get('x-ocpm-replica'), `${os.hostname()}-${ports[1]}`);
    assert.match(String(after.body.text), /fake reply #2/);
  });

  it("a replica started with the other's name is reported as a name conflict, not taken for itself", async () => {
    await third?.release();
    const namesake = await startTestService({ ...common(), PORT: String(ports[2]), OCPM_REPLICA_NAME: `${os.hostname()}-${ports[1]}` });
    try {
      await waitFor('the conflict to be seen', async () => (await peersOf(b)).some((peer) => peer.state === 'name_conflict'));
      const conflict = (await peersOf(b)).find((peer) => peer.state === 'name_conflict')!;
      assert.equal(conflict.url, `http://127.0.0.1:${ports[2]}`);
      assert.match(conflict.error ?? '', /give each replica its own OCPM_REPLICA_NAME/);
      const metrics = String((await call(`${b.url}/metrics`, 'GET')).body);
      assert.equal(sample(metrics, 'opencode_manager_peers', { state: 'name_conflict' }), 1);
      assert.ok(
        b.logs.some((line) => line.level === 'error' && String(line.message).includes("answers with this replica's own name")),
        'an error line',
      );
    } finally {
      await namesake.close();
    }
  });
});
