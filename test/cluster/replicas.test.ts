// Three replicas of the service in this process, sharing a workspace root, each with its own data
// dir, peers of each other (OCPM_PEERS): any replica answers for any session by forwarding to its
// owner (JSON, SSE, abort), a session whose owner does not answer is 503 session_unavailable, and a
// replica that stops hands its sessions (conversation, record, history) to a peer.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { makeTempDir } from '../helpers/fixtures.js';
import { freeLoopbackPorts } from '../helpers/replica-cluster.js';
import { call, openEventStream, type SseEvent } from '../helpers/http.js';
import { sample } from '../helpers/metrics-text.js';
import { startTestService, type TestService } from '../helpers/test-service.js';
import { waitFor } from '../helpers/wait-for.js';

async function metrics(svc: TestService): Promise<string> {
  return String((await call(`${svc.url}/metrics`, 'GET')).body);
}

describe('replicas that share sessions', () => {
  const replicas: TestService[] = [];
  let workspaceRoot = '';
  let removeTemp: () => Promise<void> = () => Promise.resolve();

  before(async () => {
    const temp = await makeTempDir('replicas');
    removeTemp = temp.remove;
    workspaceRoot = `${temp.dir}/workspaces`;
    const ports = await freeLoopbackPorts(3);
    const peers = ports.map((port) => `http://127.0.0.1:${port}`).join(',');
    for (const [index, port] of ports.entries()) {
      replicas.push(
        await startTestService({
          PORT: String(port),
          OCPM_REPLICA_NAME: `r${index + 1}`,
          OCPM_PEERS: peers,
          OCPM_WORKSPACE_ROOT: workspaceRoot,
          OCPM_AUTO_CREATE_WORKSPACES: 'true',
          OCPM_PEER_PROBE_INTERVAL_MS: '200',
        }),
      );
    }
    // Every replica has seen the other two up.
    for (const svc of replicas) {
      await waitFor(`${svc.url} sees its peers up`, async () => {
        const status = await call(`${svc.url}/api/opencode/status`, 'GET');
        return (status.body.peers as Array<{ state: string }>).filter((peer) => peer.state === 'up').length === 2;
      });
    }
  });

  after(async () => {
    for (const svc of replicas) await svc.close().catch(() => undefined);
    await removeTemp();
  });

  const replica = (index: number) => (): TestService => replicas[index]!;
  const [r1, r2, r3] = [replica(0), replica(1), replica(2)];

  it('status names the replica and its peers', async () => {
    const status = await call(`${r2().url}/api/opencode/status`, 'GET');
    assert.equal(status.body.replica, 'r2');
    assert.deepEqual((status.body.peers as Array<{ name: string; state: string }>).map((peer) => [peer.name, peer.state]).sort(), [
      ['r1', 'up'],
      ['r3', 'up'],
    ]);
    assert.equal(status.headers.get('x-ocpm-replica'), 'r2');
  });

  it('a message sent to any replica reaches the owner, which keeps the whole conversation', async () => {
    assert.equal((await call(`${r1().url}/api/sessions/fw1`, 'PUT', {})).status, 201);
    const texts: string[] = [];
    for (const svc of [r2(), r3(), r1(), r2()]) {
      const answer = await call(`${svc.url}/api/sessions/fw1/messages`, 'POST', { text: 'hello' });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answer.headers.get('x-ocpm-replica'), 'r1');
      assert.equal(answer.headers.get('x-ocpm-forwarded-by'), svc === r1() ? null : svc === r2() ? 'r2' : 'r3');
      texts.push(String(answer.body.text));
    }
    assert.deepEqual(
      texts.map((text) => /fake reply #(\d+)/.exec(text)?.[1]),
      ['1', '2', '3', '4'],
    );
    // A PUT elsewhere updates the owner's record instead of creating a second session.
    const put = await call(`${r3().url}/api/sessions/fw1`, 'PUT', {});
    assert.equal(put.status, 200);
    assert.equal(put.body.messageCount, 4);
    const listed = await call(`${r2().url}/api/sessions`, 'GET');
    assert.ok(
      (listed.body.sessions as Array<{ id: string }>).some((session) => session.id === 'fw1'),
      'the list has the sessions of every replica',
    );
    assert.equal(listed.body.unreachableReplicas, undefined);
    // Every replica's sessions are put together first, then filtered and paged.
    const idle = await call(`${r2().url}/api/sessions?state=idle&limit=1`, 'GET');
    assert.equal(idle.status, 200);
    assert.equal(idle.body.total, listed.body.total);
    assert.equal(idle.body.sessions.length, 1);
    assert.equal(idle.body.nextOffset, listed.body.total > 1 ? 1 : undefined);
    const pages: string[] = [];
    for (let offset: number | undefined = 0; offset !== undefined;) {
      const page = await call(`${r2().url}/api/sessions?limit=1&offset=${offset}`, 'GET');
      pages.push(...(page.body.sessions as Array<{ id: string }>).map((session) => session.id));
      offset = page.body.nextOffset as number | undefined;
    }
    assert.deepEqual(
      pages,
      (listed.body.sessions as Array<{ id: string }>).map((session) => session.id),
    );
    assert.ok(pages.includes('fw1'));
    const text = await metrics(r2());
    assert.ok(sample(text, 'opencode_manager_forwarded_requests_total', { outcome: 'ok' }) >= 2);
    assert.ok(sample(text, 'opencode_manager_owner_lookup_seconds_count', { result: 'cache' }) >= 1, 'the owner is remembered');
  });

  it('streams (SSE) and aborts are forwarded too', async () => {
    assert.equal((await call(`${r3().url}/api/sessions/fw2`, 'PUT', {})).status, 201);
    const events: SseEvent[] = [];
    for await (const event of await openEventStream(`${r1().url}/api/sessions/fw2/messages`, { text: 'stream me' })) events.push(event);
    assert.deepEqual(events.at(-1)?.event, 'done');
    assert.match(String(events.at(-1)?.data.text), /fake reply #1/);

    const running = call(`${r2().url}/api/sessions/fw2/messages`, 'POST', { text: 'wait\n#fake hang' });
    await waitFor('the turn runs on the owner', async () => (await call(`${r1().url}/api/sessions/fw2`, 'GET')).body.busy === true);
    const abort = await call(`${r1().url}/api/sessions/fw2/abort`, 'POST');
    assert.equal(abort.status, 202, JSON.stringify(abort.body));
    const aborted = await running;
    assert.equal(aborted.status, 409);
    assert.equal(aborted.body.error.code, 'aborted');
  });

  it('an unknown session is 404 everywhere; replica-to-replica routes need the token', async () => {
    const missing = await call(`${r2().url}/api/sessions/nobody/messages`, 'POST', { text: 'x' });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'session_not_found');
    const internal = await call(`${r2().url}/internal/v1/replica`, 'GET', undefined, { authorization: '' });
    assert.equal(internal.status, 401);
    const spoofed = await call(`${r2().url}/api/sessions/fw1`, 'GET', undefined, { 'x-ocpm-forwarded-by': 'someone' });
    assert.equal(spoofed.status, 421);
    assert.equal(spoofed.body.error.code, 'not_owner');
  });

  it('a replica that stops hands its sessions to its peers, history included', async () => {
    assert.equal((await call(`${r3().url}/api/sessions/ho1`, 'PUT', {})).status, 201);
    assert.equal((await call(`${r3().url}/api/sessions/ho2`, 'PUT', {})).status, 201);
    for (const id of ['ho1', 'ho1', 'ho2']) assert.equal((await call(`${r3().url}/api/sessions/${id}/messages`, 'POST', { text: 'before' })).status, 200);
    await r3().close();
    const finished = r3().logs.find((line) => line.message === 'Handoff finished');
    assert.ok(
      finished !== undefined,
      JSON.stringify(
        r3()
          .logs.filter((line) => line.level === 'warn')
          .slice(-5),
      ),
    );
    assert.equal(finished.failed, 0);
    // fw2 (owned by r3 above) moved too.
    assert.equal(finished.sent, 3);
    await waitFor('r1 sees r3 left', async () =>
      ((await call(`${r1().url}/api/opencode/status`, 'GET')).body.peers as Array<{ name: string; state: string }>).some(
        (peer) => peer.name === 'r3' && peer.state === 'left',
      ),
    );
    // fw2 had one answered turn and one aborted (which the fake does not keep in its conversation).
    for (const [id, reply, turns] of [
      ['ho1', /fake reply #3\b/, 3],
      ['ho2', /fake reply #2\b/, 2],
      ['fw2', /fake reply #2\b/, 3],
    ] as const) {
      const answer = await call(`${r1().url}/api/sessions/${id}/messages`, 'POST', { text: 'after' });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.match(String(answer.body.text), reply, `${id} kept its conversation`);
      const history = await call(`${r2().url}/api/sessions/${id}/messages`, 'GET');
      assert.equal(history.body.messages.length, turns, `${id} kept its turn history`);
      // Its usage moved with it: every turn of the history (the one after the move included) is counted.
      const { usage } = (await call(`${r2().url}/api/sessions/${id}`, 'GET')).body;
      assert.equal(usage.turns, turns, `${id} kept its usage`);
      const costs = (history.body.messages as Array<{ cost: number | null }>).reduce((sum, turn) => sum + (turn.cost ?? 0), 0);
      assert.ok(Math.abs(usage.cost - costs) < 1e-9, `${id}: usage cost ${usage.cost}, history ${costs}`);
    }
    const received = (svc: TestService): Promise<number> =>
      metrics(svc).then((text) => sample(text, 'opencode_manager_session_handoffs_total', { outcome: 'received' }));
    assert.equal((await received(r1())) + (await received(r2())), 3);
  });

  it('a session whose owner stopped without handing off answers 503 session_unavailable with Retry-After', async () => {
    assert.equal((await call(`${r2().url}/api/sessions/lost1`, 'PUT', {})).status, 201);
    // The owner dies without a drain: every server and socket gone at once.
    r2().service.manager.killAllNow();
    r2().service.server.closeAllConnections();
    await new Promise<void>((resolve) => r2().service.server.close(() => resolve()));
    const answer = await call(`${r1().url}/api/sessions/lost1/messages`, 'POST', { text: 'anyone?' });
    assert.equal(answer.status, 503, JSON.stringify(answer.body));
    assert.equal(answer.body.error.code, 'session_unavailable');
    assert.equal(answer.headers.get('retry-after'), '5');
    const listed = await call(`${r1().url}/api/sessions`, 'GET');
    assert.deepEqual(listed.body.unreachableReplicas, ['r2']);
    // A new id is refused too while a replica that may hold it does not answer.
    const fresh = await call(`${r1().url}/api/sessions/brand-new`, 'PUT', {});
    assert.equal(fresh.status, 503);
  });
});
