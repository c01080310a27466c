// The real opencode binary behind two replicas of the built service and a real HAProxy hashing
// X-Session-Id, against the stub model: three conversations of two messages, then the replica that
// owns the most drains on SIGTERM and hands them off (opencode export/import), and the third message
// of every session still sees the two before it (`user_messages=3`). Nothing is left running.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it, type TestContext } from 'node:test';
import { startStubLlm, type StubLlm } from '../fixtures/stub-llm/server.mjs';
import { makeTempDir } from '../helpers/fixtures.js';
import { Haproxy, haproxyBinary } from '../helpers/haproxy.js';
import { call, TEST_API_TOKEN } from '../helpers/http.js';
import { pidsWithEnv } from '../helpers/processes.js';
import { realOpencodeServiceEnv } from '../helpers/real-opencode.js';
import { buildService, freeLoopbackPorts, percentile, Replica, sendMessage, sessionHeaders, type MessageResult } from '../helpers/replica-cluster.js';
import { waitFor } from '../helpers/wait-for.js';

const HAPROXY = haproxyBinary();
const SKIP =
  HAPROXY === undefined && process.env.CI === undefined ? 'haproxy is not installed (apt-get install haproxy); in CI this suite fails instead' : false;
const NAMES = ['r1', 'r2'] as const;
type Name = (typeof NAMES)[number];

describe('real opencode, two replicas behind haproxy: a drained replica hands its conversations off', { skip: SKIP, timeout: 15 * 60_000 }, () => {
  let stub: StubLlm;
  let temp: { dir: string; remove: () => Promise<void> };
  let build: { nodeArgs: string[]; remove: () => Promise<void> } | undefined;
  let haproxy: Haproxy | undefined;
  const replicas = new Map<Name, Replica>();
  const tag = `FAKE_OPENCODE_TEST_TAG=${randomUUID()}`;
  const sessions = ['alpha', 'beta', 'gamma'].map((name) => `${name}-${randomUUID().slice(0, 8)}`);
  const replica = (name: Name): Replica => replicas.get(name) as Replica;
  const tails = (): string => [...replicas.values()].map((r) => r.tail()).join('\n\n');
  const show = (r: MessageResult): string =>
    `${r.sessionId}: ${r.status} replica=${String(r.replica)} forwardedBy=${String(r.forwardedBy)} ${JSON.stringify(r.body).slice(0, 400)}`;

  before(async () => {
    if (HAPROXY === undefined) throw new Error('haproxy is not installed: CI installs it with apt (.ci/run); apt-get install -y haproxy');
    stub = await startStubLlm();
    temp = await makeTempDir('e2e-scale');
    build = await buildService();
    const ports = await freeLoopbackPorts(NAMES.length + 1);
    const peers = NAMES.map((_, i) => `http://127.0.0.1:${ports[i] as number}`).join(',');
    const [tagName, tagValue] = tag.split('=') as [string, string];
    for (const [i, name] of NAMES.entries()) {
      const env: Record<string, string> = {
        ...(await realOpencodeServiceEnv(stub, `${temp.dir}/${name}/home`)),
        OCPM_REPLICA_NAME: name,
        OCPM_PEERS: peers,
        OCPM_PEER_PROBE_INTERVAL_MS: '500',
        OCPM_API_TOKEN: TEST_API_TOKEN,
        OCPM_AUTO_CREATE_WORKSPACES: 'true',
        OCPM_WORKSPACE_ROOT: `${temp.dir}/workspaces`,
        OCPM_DATA_DIR: `${temp.dir}/${name}/data`,
        OCPM_CHILD_ENV_ALLOW: 'FAKE_OPENCODE_*', // carries the tag to every opencode process
        OCPM_DRAIN_TIMEOUT_MS: '60000',
        [tagName]: tagValue,
      };
      replicas.set(name, new Replica(name, ports[i] as number, env, build.nodeArgs, temp.dir));
    }
    await Promise.all(NAMES.map((name) => replica(name).start(120_000)));
    haproxy = new Haproxy(HAPROXY, {
      dir: `${temp.dir}/haproxy`,
      port: ports[NAMES.length] as number,
      servers: NAMES.map((name) => ({ name, port: replica(name).port })),
    });
    await haproxy.start();
  });

  after(async () => {
    await haproxy?.stop();
    await Promise.all([...replicas.values()].map((r) => r.stop(60_000)));
    await waitFor('every opencode process of this test to be gone', () => pidsWithEnv(tag).length === 0, 30_000).catch(() => undefined);
    const left = pidsWithEnv(tag);
    for (const pid of left) process.kill(pid, 'SIGKILL');
    await build?.remove();
    await stub?.close();
    await temp?.remove();
    assert.deepEqual(left, [], 'opencode processes outlived the replicas');
  });

  it('3 sessions × 2 messages, drain the replica that owns the most, then user_messages=3 for every session', async (t: TestContext) => {
    const proxy = (haproxy as Haproxy).url;
    for (const id of sessions) {
      const created = await call(`${proxy}/api/sessions/${id}`, 'PUT', {}, sessionHeaders(id));
      assert.equal(created.status, 201, `${id}: ${JSON.stringify(created.body)}\n${tails()}`);
    }
    const owners = new Map<string, string | null>();
    for (let k = 1; k <= 2; k += 1) {
      const results = await Promise.all(sessions.map((id) => sendMessage(proxy, id, `message ${k} MARK:${id.split('-')[0] as string}${k}`)));
      for (const r of results) {
        assert.equal(r.status, 200, `${show(r)}\n${tails()}`);
        assert.equal(r.text, `stub answer user_messages=${k} marker=${r.sessionId.split('-')[0] as string}${k}`, show(r));
        owners.set(r.sessionId, r.replica);
      }
    }
    const counts = NAMES.map((name) => sessions.filter((id) => owners.get(id) === name).length);
    assert.equal(
      counts.reduce((a, b) => a + b, 0),
      sessions.length,
      `every answer names its replica (X-Ocpm-Replica): ${JSON.stringify([...owners])}`,
    );
    const leaving: Name = (counts[0] as number) >= (counts[1] as number) ? 'r1' : 'r2';
    const staying: Name = leaving === 'r1' ? 'r2' : 'r1';
    const moving = sessions.filter((id) => owners.get(id) === leaving);

    await (haproxy as Haproxy).maint(leaving);
    const exit = await replica(leaving).stop(120_000); // SIGTERM; SIGKILL only after 120 s (the exit code says so)
    assert.equal(exit?.code, 0, `${leaving} exited ${JSON.stringify(exit)}\n${replica(leaving).tail()}`);
    const finished = await replica(leaving).waitForLog('Handoff finished');
    assert.equal(finished.failed, 0, JSON.stringify(finished));
    assert.equal(finished.sent, moving.length, JSON.stringify(finished));
    const handed = replica(leaving).logsWith('Session handed off');
    assert.deepEqual(handed.map((e) => e.sessionId).sort(), [...moving].sort());
    for (const entry of handed) assert.equal(entry.to, staying);
    const ms = handed.map((e) => Number(e.ms));
    t.diagnostic(
      `real opencode: ${handed.length} sessions handed off ${leaving} -> ${staying}; per session p50 ${percentile(ms, 50)} ms, max ${Math.max(...ms)} ms`,
    );

    const third = await Promise.all(sessions.map((id) => sendMessage(proxy, id, `message 3 MARK:${id.split('-')[0] as string}3`)));
    for (const r of third) {
      assert.equal(r.status, 200, `${show(r)}\n${replica(staying).tail()}`);
      assert.equal(r.text, `stub answer user_messages=3 marker=${r.sessionId.split('-')[0] as string}3`, show(r));
      assert.equal(r.replica, staying);
    }
  });
});
