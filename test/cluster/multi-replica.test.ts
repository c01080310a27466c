// Several replicas of the built service behind a real HAProxy that hashes X-Session-Id, with the fake
// opencode: 30 sessions on r1..r3; r4 joins (3 -> 4) and answers the sessions that now hash to it by
// forwarding to their owners; r1 and r2 drain on SIGTERM and hand their sessions to the others (4 -> 2),
// and every conversation goes on where it was. Then an owner that crashed (it did not leave) makes its
// sessions answer 503 session_unavailable. Once per opencode mode. Nothing is left running afterwards.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it, type TestContext } from 'node:test';
import { FAKE_OPENCODE, makeTempDir } from '../helpers/fixtures.js';
import { Haproxy, haproxyBinary } from '../helpers/haproxy.js';
import { call, TEST_API_TOKEN } from '../helpers/http.js';
import { series, sumBy } from '../helpers/metrics-text.js';
import { readJsonLines } from '../helpers/json-lines.js';
import { fakeOpencodeProcesses, pidsWithEnv } from '../helpers/processes.js';
import {
  buildService,
  freeLoopbackPorts,
  holdPort,
  mapLimit,
  percentile,
  Replica,
  sendMessage,
  sessionHeaders,
  type MessageResult,
} from '../helpers/replica-cluster.js';
import { waitFor } from '../helpers/wait-for.js';

const HAPROXY = haproxyBinary();
const SKIP =
  HAPROXY === undefined && process.env.CI === undefined ? 'haproxy is not installed (apt-get install haproxy); in CI this suite fails instead' : false;

const SESSIONS = 30;
const CONCURRENCY = 6;
const NAMES = ['r1', 'r2', 'r3', 'r4'] as const;
type Name = (typeof NAMES)[number];
const PEER_STATES = ['up', 'draining', 'down', 'left', 'unauthorized'];

interface Peer {
  readonly name?: string;
  readonly url: string;
  readonly state: string;
  readonly lastSeenAt: unknown;
}

/** `sessionId -> value` as a readable list for assertion messages. */
const listOf = (results: readonly MessageResult[]): string =>
  results
    .map((r) => `${r.sessionId}: ${r.status} replica=${String(r.replica)} forwardedBy=${String(r.forwardedBy)} ${JSON.stringify(r.body).slice(0, 300)}`)
    .join('\n');

describe('multi-replica cluster behind haproxy (fake opencode)', { skip: SKIP, timeout: 15 * 60_000 }, () => {
  let build: { nodeArgs: string[]; remove: () => Promise<void> };
  before(async () => {
    if (HAPROXY === undefined) throw new Error('haproxy is not installed: CI installs it with apt (.ci/run); apt-get install -y haproxy');
    build = await buildService();
  });
  after(async () => {
    await build?.remove();
  });

  // The default mode (auto: server mode with the fake), then per-message mode.
  for (const mode of ['default', 'per-message'] as const) {
    describe(`${mode} mode`, () => {
      let temp: { dir: string; remove: () => Promise<void> };
      let haproxy: Haproxy;
      const replicas = new Map<Name, Replica>();
      const tag = `FAKE_OPENCODE_TEST_TAG=${randomUUID()}`;
      const replicaTags = new Map<Name, string>(NAMES.map((name) => [name, `${name}-${randomUUID()}`]));
      const sessions = Array.from({ length: SESSIONS }, (_, i) => `mr${i}-${randomUUID().slice(0, 8)}`);
      /** The replica that answered each session last (X-Ocpm-Replica): its owner. */
      const owners = new Map<string, string | null>();
      const replica = (name: Name): Replica => replicas.get(name) as Replica;
      let r4Port: { release: () => Promise<void> } | undefined;
      const tails = (...names: Name[]): string => names.map((name) => replica(name).tail()).join('\n\n');

      before(async () => {
        temp = await makeTempDir(`cluster-${mode}`);
        const ports = await freeLoopbackPorts(NAMES.length + 1);
        const peers = NAMES.map((_, i) => `http://127.0.0.1:${ports[i] as number}`).join(',');
        const [tagName, tagValue] = tag.split('=') as [string, string];
        NAMES.forEach((name, i) => {
          const env: Record<string, string> = {
            OCPM_REPLICA_NAME: name,
            OCPM_PEERS: peers,
            OCPM_PEER_PROBE_INTERVAL_MS: '500',
            OCPM_API_TOKEN: TEST_API_TOKEN,
            OCPM_AUTO_CREATE_WORKSPACES: 'true',
            OCPM_WORKSPACE_ROOT: `${temp.dir}/workspaces`,
            OCPM_DATA_DIR: `${temp.dir}/${name}/data`,
            OCPM_OPENCODE_BIN: FAKE_OPENCODE,
            OCPM_ISOLATION: 'off', // the fake writes its records outside the workspaces (test-service.ts)
            OCPM_CHILD_ENV_ALLOW: 'FAKE_OPENCODE_*',
            OCPM_KILL_GRACE_MS: '500',
            OCPM_DRAIN_TIMEOUT_MS: '15000',
            OCPM_LOG_LEVEL: 'debug',
            XDG_DATA_HOME: `${temp.dir}/${name}/xdg-data`,
            FAKE_OPENCODE_RECORD_DIR: `${temp.dir}/${name}/record`,
            FAKE_OPENCODE_REPLICA_TAG: replicaTags.get(name) as string,
            [tagName]: tagValue,
            ...(mode === 'per-message' ? { OCPM_MODE: 'per-message' } : {}),
          };
          replicas.set(name, new Replica(name, ports[i] as number, env, build.nodeArgs, temp.dir));
        });
        // r4 joins in phase 2: until then its port stays taken, so nothing else on the machine gets it.
        r4Port = await holdPort(replica('r4').port);
        await Promise.all((['r1', 'r2', 'r3'] as const).map((name) => replica(name).start()));
        haproxy = new Haproxy(HAPROXY as string, {
          dir: `${temp.dir}/haproxy`,
          port: ports[NAMES.length] as number,
          servers: NAMES.map((name) => ({ name, port: replica(name).port, disabled: name === 'r4' })),
        });
        await haproxy.start();
      });

      after(async () => {
        await r4Port?.release().catch(() => undefined);
        await haproxy?.stop();
        await Promise.all([...replicas.values()].map((r) => r.stop()));
        // A replica SIGKILLed on purpose leaves its opencode children: end them (ours, by pid), then fail if any was left otherwise.
        const left = fakeOpencodeProcesses(tag.split('=')[1] as string);
        for (const { pid } of left) process.kill(pid, 'SIGKILL');
        assert.deepEqual(left, [], 'fake opencode processes were left behind');
        await waitFor('every tagged process to be gone', () => pidsWithEnv(tag).length === 0, 10_000);
        await temp?.remove();
      });

      /** One message per session through the proxy, CONCURRENCY sessions at a time. */
      const round = (k: number, options: { sse?: (index: number) => boolean } = {}): Promise<MessageResult[]> =>
        mapLimit(sessions, CONCURRENCY, (id, index) => sendMessage(haproxy.url, id, `message ${k} of ${id}`, { sse: options.sse?.(index) ?? false }));

      const assertReplies = async (results: readonly MessageResult[], k: number, names: Name[]): Promise<void> => {
        const context = async (): Promise<string> => `${tails(...names)}\n\nhaproxy (${haproxy.logFile}):\n${await haproxy.logTail()}`;
        const notFound = results.filter((r) => r.status === 404);
        if (notFound.length > 0) assert.fail(`404s for message ${k}:\n${listOf(notFound)}\n${await context()}`);
        const bad = results.filter((r) => r.status !== 200 || !(r.text ?? '').startsWith(`fake reply #${k} [`));
        if (bad.length > 0) assert.fail(`wrong answers for message ${k} (expected "fake reply #${k} …"):\n${listOf(bad)}\n${await context()}`);
      };

      const peersOf = async (name: Name): Promise<{ replica: unknown; peers: Peer[] }> => {
        const status = (await call(`${replica(name).url}/api/opencode/status`, 'GET')).body as { replica?: unknown; peers?: Peer[] };
        return { replica: status.replica, peers: Array.isArray(status.peers) ? status.peers : [] };
      };
      /** Waits until `observer` reports `peer` (by its URL) in `state`. */
      const waitForPeerState = (observer: Name, peer: Name, state: string): Promise<unknown> =>
        waitFor(
          `${observer} to report ${peer} ${state}`,
          async () => (await peersOf(observer)).peers.find((p) => p.url === replica(peer).url)?.state === state,
          20_000,
          100,
        );

      let phase1: MessageResult[] = [];
      it('phase 1: 30 sessions created and 3 messages each through the proxy, on r1..r3', async () => {
        const created = await mapLimit(sessions, CONCURRENCY, (id) => call(`${haproxy.url}/api/sessions/${id}`, 'PUT', {}, sessionHeaders(id)));
        const notCreated = created.map((r, i) => ({ id: sessions[i], status: r.status, body: r.body })).filter((r) => r.status !== 201);
        assert.deepEqual(notCreated, [], `PUT /api/sessions/:id through the proxy\n${tails('r1', 'r2', 'r3')}`);
        for (let k = 1; k <= 3; k += 1) {
          const results = await mapLimit(sessions, CONCURRENCY, async (id) => {
            return sendMessage(haproxy.url, id, `message ${k} of ${id}`);
          });
          await assertReplies(results, k, ['r1', 'r2', 'r3']);
          phase1 = phase1.concat(results);
        }
        // The proxy spread the sessions: the fake opencode's records show messages on at least two replicas.
        const used: string[] = [];
        for (const name of ['r1', 'r2', 'r3'] as const) {
          const record = `${temp.dir}/${name}/record/${mode === 'per-message' ? 'runs.jsonl' : 'serve-messages.jsonl'}`;
          if ((await readJsonLines(record)).length > 0) used.push(name);
        }
        assert.ok(used.length >= 2, `haproxy sent every session to one replica (${used.join(', ')})`);
      });

      it('phase 1: every answer names its replica, nothing was forwarded, and the status lists the peers', async (t: TestContext) => {
        const unnamed = phase1.filter((r) => !['r1', 'r2', 'r3'].includes(r.replica ?? ''));
        assert.deepEqual(
          unnamed.map((r) => r.sessionId),
          [],
          `answers without X-Ocpm-Replica r1..r3:\n${listOf(unnamed.slice(0, 5))}`,
        );
        const forwarded = phase1.filter((r) => r.forwardedBy !== null);
        // Each session hashes to one replica while r1..r3 stay up: nothing needs a forward (unless a
        // replica failed its health checks and haproxy moved its hash range for a while).
        const flaps = await haproxy.downEvents();
        if (flaps.length === 0)
          assert.deepEqual(
            forwarded.map((r) => r.sessionId),
            [],
            `forwarded in phase 1:\n${listOf(forwarded)}`,
          );
        else t.diagnostic(`haproxy took replicas out during phase 1 (${flaps.join('; ')}): ${forwarded.length} forwards`);
        for (const r of phase1) {
          const known = owners.get(r.sessionId);
          assert.ok(known === undefined || known === r.replica, `${r.sessionId} answered by ${String(known)} and ${String(r.replica)}`);
          owners.set(r.sessionId, r.replica);
        }
        for (const name of ['r1', 'r2', 'r3'] as const) {
          const status = await peersOf(name);
          assert.equal(status.replica, name, `status.replica of ${name}`);
          for (const peer of status.peers) {
            assert.ok(PEER_STATES.includes(peer.state), `${name} reports peer ${JSON.stringify(peer)}`);
            assert.equal(typeof peer.url, 'string');
            assert.ok('lastSeenAt' in peer, `peer without lastSeenAt: ${JSON.stringify(peer)}`);
          }
          for (const other of (['r1', 'r2', 'r3'] as const).filter((n) => n !== name)) {
            await waitForPeerState(name, other, 'up');
            assert.equal((await peersOf(name)).peers.find((p) => p.url === replica(other).url)?.name, other);
          }
          const r4 = (await peersOf(name)).peers.find((p) => p.url === replica('r4').url);
          assert.ok(r4 !== undefined && r4.state !== 'up', `${name} reports r4 (not started) as ${JSON.stringify(r4)}`);
        }
      });

      let phase2: MessageResult[] = [];
      it('phase 2: r4 joins (3 -> 4): message 4 of every session answers, no 404, the sessions that hash to r4 are forwarded', async (t: TestContext) => {
        await r4Port?.release();
        await replica('r4').start();
        await haproxy.enable('r4');
        for (const name of ['r1', 'r2', 'r3'] as const) {
          await waitForPeerState(name, 'r4', 'up');
          await waitForPeerState('r4', name, 'up');
        }
        // Every third session streams (SSE is forwarded too).
        phase2 = await round(4, { sse: (index) => index % 3 === 0 });
        await assertReplies(phase2, 4, [...NAMES]);
        const forwarded = phase2.filter((r) => r.forwardedBy !== null);
        const direct = phase2.filter((r) => r.forwardedBy === null);
        assert.ok(forwarded.length > 0, `no answer carried X-Ocpm-Forwarded-By, though r4 owns no session:\n${listOf(phase2.slice(0, 8))}`);
        for (const r of forwarded) {
          assert.equal(r.forwardedBy, 'r4', `only r4 lacks sessions, so only r4 forwards: ${listOf([r])}`);
          assert.equal(r.replica, owners.get(r.sessionId), `a forwarded answer comes from the owner: ${listOf([r])}`);
        }
        for (const r of direct) assert.equal(r.replica, owners.get(r.sessionId), `${r.sessionId} moved without a hand-off: ${listOf([r])}`);
        const streamed = forwarded.filter((r) => (r.body as { event?: string } | undefined)?.event === 'done');
        t.diagnostic(`phase 2: ${forwarded.length}/${SESSIONS} messages forwarded by r4 (${streamed.length} of them as SSE)`);
        const fwdP50 = percentile(
          forwarded.map((r) => r.ms),
          50,
        );
        const directP50 = percentile(
          direct.map((r) => r.ms),
          50,
        );
        t.diagnostic(
          `phase 2 latency p50: forwarded ${fwdP50.toFixed(1)} ms (n=${forwarded.length}), direct ${directP50.toFixed(1)} ms (n=${direct.length}); forward overhead p50 ≈ ${(fwdP50 - directP50).toFixed(1)} ms`,
        );

        const metrics = (await call(`${replica('r4').url}/metrics`, 'GET')).body as string;
        const byOutcome = sumBy(metrics, 'opencode_manager_forwarded_requests_total', 'outcome');
        const total = Object.values(byOutcome).reduce((sum, v) => sum + v, 0);
        assert.ok(total >= forwarded.length, `r4 counted ${total} forwards (${JSON.stringify(byOutcome)}), the clients saw ${forwarded.length}`);
        const lookups = series(metrics, 'opencode_manager_owner_lookup_seconds_count').reduce((sum, s) => sum + s.value, 0);
        assert.ok(lookups > 0, 'r4 observed no owner lookup (opencode_manager_owner_lookup_seconds)');
      });

      it('phase 3: r1 and r2 drain and leave (4 -> 2): their sessions are handed off, message 5 of every session answers, no conversation lost', async (t: TestContext) => {
        const leaving = ['r1', 'r2'] as const;
        const ownedBy = (name: string): string[] => sessions.filter((id) => owners.get(id) === name);
        for (const name of leaving) await haproxy.maint(name);
        // SIGTERM (SIGKILL only after 60 s, which the exit-code check reports).
        const exits = await Promise.all(leaving.map((name) => replica(name).stop(60_000)));
        exits.forEach((exit, i) =>
          assert.equal(exit?.code, 0, `${leaving[i] as string} exited ${JSON.stringify(exit)}\n${replica(leaving[i] as Name).tail()}`),
        );
        const handoffMs: number[] = [];
        for (const name of leaving) {
          const finished = await replica(name).waitForLog('Handoff finished');
          assert.equal(finished.failed, 0, `${name}: ${JSON.stringify(finished)}\n${replica(name).tail()}`);
          assert.equal(finished.sent, ownedBy(name).length, `${name} owned ${ownedBy(name).length} sessions: ${JSON.stringify(finished)}`);
          const handed = replica(name).logsWith('Session handed off');
          assert.deepEqual(handed.map((e) => e.sessionId).sort(), ownedBy(name).sort(), `${name} handed off other sessions than it owned`);
          for (const entry of handed) {
            assert.ok(['r3', 'r4'].includes(String(entry.to)), `${name} handed ${String(entry.sessionId)} to ${String(entry.to)}, not to an up peer`);
            handoffMs.push(Number(entry.ms));
          }
        }
        t.diagnostic(`phase 3: ${handoffMs.length} sessions handed off; per session p50 ${percentile(handoffMs, 50)} ms, max ${Math.max(...handoffMs)} ms`);
        for (const name of ['r3', 'r4'] as const) for (const gone of leaving) await waitForPeerState(name, gone, 'left');

        const results = await round(5, { sse: (index) => index % 5 === 0 });
        await assertReplies(results, 5, ['r3', 'r4']);
        const elsewhere = results.filter((r) => !['r3', 'r4'].includes(r.replica ?? ''));
        assert.deepEqual(
          elsewhere.map((r) => r.sessionId),
          [],
          `answers not from r3/r4:\n${listOf(elsewhere)}`,
        );
        const moved = sessions.filter((id) => leaving.includes(owners.get(id) as 'r1'));
        for (const r of results) owners.set(r.sessionId, r.replica);
        const fwd = results.filter((r) => r.forwardedBy !== null);
        const direct = results.filter((r) => r.forwardedBy === null);
        t.diagnostic(
          `phase 3 latency p50: forwarded ${percentile(
            fwd.map((r) => r.ms),
            50,
          ).toFixed(1)} ms (n=${fwd.length}), direct ${percentile(
            direct.map((r) => r.ms),
            50,
          ).toFixed(1)} ms (n=${direct.length})`,
        );

        // The turn history moved with the conversation: all five turns, newest first.
        for (const id of moved) {
          const history = await call(`${haproxy.url}/api/sessions/${id}/messages?limit=50`, 'GET', undefined, sessionHeaders(id));
          assert.equal(history.status, 200, `${id}: ${JSON.stringify(history.body)}\n${tails('r3', 'r4')}`);
          const texts = (history.body as { messages: Array<{ text: string | null }> }).messages.map((m) => /^fake reply #(\d+)/.exec(m.text ?? '')?.[1]);
          assert.deepEqual(texts, ['5', '4', '3', '2', '1'], `turn history of the moved session ${id}`);
        }
        const metrics = (await call(`${replica('r3').url}/metrics`, 'GET')).body as string;
        assert.match(metrics, /# TYPE opencode_manager_session_handoffs_total counter/);
      });

      it('an owner that crashed (did not leave): its sessions answer 503 session_unavailable with Retry-After; the others answer', async (t: TestContext) => {
        const victim = sessions.find((id) => owners.get(id) === 'r4');
        const survivor = sessions.find((id) => owners.get(id) === 'r3');
        if (victim === undefined || survivor === undefined) {
          t.skip(`no session owned by each of r4 and r3 (owners: ${JSON.stringify([...owners])})`);
          return;
        }
        await replica('r4').signal('SIGKILL');
        // Its opencode children outlive a SIGKILL (the next boot would reap them): end them here, ours by pid.
        const tagged = `FAKE_OPENCODE_REPLICA_TAG=${replicaTags.get('r4') as string}`;
        for (const pid of pidsWithEnv(tagged)) process.kill(pid, 'SIGKILL');
        await waitForPeerState('r3', 'r4', 'down');
        const lost = await sendMessage(replica('r3').url, victim, 'message 6');
        assert.equal(lost.status, 503, `${listOf([lost])}\n${tails('r3')}`);
        assert.equal((lost.body as { error?: { code?: string } }).error?.code, 'session_unavailable');
        assert.ok(lost.retryAfter !== null && Number(lost.retryAfter) > 0, `Retry-After: ${String(lost.retryAfter)}`);
        const fine = await sendMessage(haproxy.url, survivor, 'message 6');
        assert.equal(fine.status, 200, listOf([fine]));
        assert.match(fine.text ?? '', /^fake reply #6 /);
      });
    });
  }
});
