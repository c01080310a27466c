// What a second replica costs: the same session's messages sent to its owner and, interleaved, to a
// peer that forwards them (fake `opencode serve`, answers at once, so the difference is the extra
// hop, the owner look-up and the relay); and the time to hand a session to a peer when its replica
// stops (opencode export here, transfer, opencode import there, record and history).
// Usage: node --import tsx bench/forward.ts [--messages 200] [--sessions 20]   (bench/README.md)
import { parseArgs } from 'node:util';
import { callOk } from '../test/helpers/http.js';
import { startTestService, type TestService } from '../test/helpers/test-service.js';
import { waitFor } from '../test/helpers/wait-for.js';
import { makeTempDir } from '../test/helpers/fixtures.js';
import { freeLoopbackPorts } from '../test/helpers/replica-cluster.js';
import { percentile, writeResults } from './results.js';

const out = (line = ''): boolean => process.stdout.write(`${line}\n`);
const { values: opts } = parseArgs({ options: { messages: { type: 'string', default: '200' }, sessions: { type: 'string', default: '20' } } });
const MESSAGES = Number(opts.messages);
const SESSIONS = Number(opts.sessions);
if (!Number.isInteger(MESSAGES) || MESSAGES < 10 || !Number.isInteger(SESSIONS) || SESSIONS < 1) {
  process.stderr.write('usage: node --import tsx bench/forward.ts [--messages 200] [--sessions 20]\n');
  process.exit(2);
}

const round = (ms: number): number => Math.round(ms * 100) / 100;
const temp = await makeTempDir('bench-forward');
const ports = await freeLoopbackPorts(2);
const peers = ports.map((port) => `http://127.0.0.1:${port}`).join(',');
const replicas: TestService[] = [];
try {
  for (const [index, port] of ports.entries()) {
    replicas.push(
      await startTestService({
        PORT: String(port),
        OCPM_MODE: 'server',
        OCPM_REPLICA_NAME: `r${index + 1}`,
        OCPM_PEERS: peers,
        OCPM_WORKSPACE_ROOT: `${temp.dir}/workspaces`,
        OCPM_AUTO_CREATE_WORKSPACES: 'true',
        OCPM_LOG_LEVEL: 'info',
        OCPM_RATE_LIMIT_PER_MIN: '0',
      }),
    );
  }
  const [owner, peer] = replicas as [TestService, TestService];
  await waitFor(
    'the replicas see each other',
    async () => (await callOk<{ peers: Array<{ state: string }> }>(`${peer.url}/api/opencode/status`, 'GET')).peers[0]?.state === 'up',
    30_000,
  );
  await callOk(`${owner.url}/api/sessions/bench`, 'PUT', {});
  const send = async (base: string): Promise<number> => {
    const started = performance.now();
    await callOk(`${base}/api/sessions/bench/messages`, 'POST', { text: 'hi' });
    return performance.now() - started;
  };
  for (let i = 0; i < 20; i += 1) await send(i % 2 === 0 ? owner.url : peer.url);
  const direct: number[] = [];
  const forwarded: number[] = [];
  const differences: number[] = [];
  for (let i = 0; i < MESSAGES; i += 1) {
    // Alternate which goes first, so a drift in machine load hits both alike.
    const first = i % 2 === 0 ? owner.url : peer.url;
    const a = await send(first);
    const b = await send(first === owner.url ? peer.url : owner.url);
    const [d, f] = first === owner.url ? [a, b] : [b, a];
    direct.push(d);
    forwarded.push(f);
    differences.push(f - d);
  }

  // Handoff: SESSIONS sessions with one turn each on the peer, which then stops.
  for (let i = 0; i < SESSIONS; i += 1) {
    await callOk(`${peer.url}/api/sessions/h${i}`, 'PUT', {});
    await callOk(`${peer.url}/api/sessions/h${i}/messages`, 'POST', { text: 'before' });
  }
  await peer.close();
  const handed = peer.logs.filter((line) => line.message === 'Session handed off').map((line) => Number(line.ms));
  const finished = peer.logs.find((line) => line.message === 'Handoff finished');
  for (let i = 0; i < SESSIONS; i += 1) {
    const answer = await callOk<{ text: string }>(`${owner.url}/api/sessions/h${i}/messages`, 'POST', { text: 'after' });
    if (!answer.text.startsWith('fake reply #2 ')) throw new Error(`h${i} lost its conversation: ${answer.text}`);
  }
  const result = {
    messages: MESSAGES,
    direct: { p50: round(percentile(direct, 0.5)), p95: round(percentile(direct, 0.95)) },
    forwarded: { p50: round(percentile(forwarded, 0.5)), p95: round(percentile(forwarded, 0.95)) },
    overhead: { p50: round(percentile(differences, 0.5)), p95: round(percentile(differences, 0.95)) },
    handoff: {
      sessions: handed.length,
      perSession: { p50: round(percentile(handed, 0.5)), max: round(Math.max(...handed)) },
      totalMs: Number(finished?.ms ?? NaN),
      failed: Number(finished?.failed ?? NaN),
    },
  };
  const table = [
    `Forwarding (${MESSAGES} interleaved messages of one session, fake opencode serve) and handoff (${SESSIONS} sessions)`,
    '',
    '| what | p50 ms | p95 ms |',
    '|---|---|---|',
    `| message sent to its owner | ${result.direct.p50} | ${result.direct.p95} |`,
    `| message sent to a peer that forwards it | ${result.forwarded.p50} | ${result.forwarded.p95} |`,
    `| **forward overhead** (paired difference) | **${result.overhead.p50}** | ${result.overhead.p95} |`,
    '',
    `Handoff on stop: ${result.handoff.sessions} sessions in ${result.handoff.totalMs} ms (${result.handoff.failed} failed), per session p50 ${result.handoff.perSession.p50} ms, max ${result.handoff.perSession.max} ms (export through the session's serve; import: one fake opencode start).`,
  ].join('\n');
  const files = writeResults('forward', new Date(), result, table);
  out(table);
  out();
  out(`results: ${files.json}`);
} finally {
  for (const svc of replicas) await svc.close().catch(() => undefined);
  await temp.remove();
}
