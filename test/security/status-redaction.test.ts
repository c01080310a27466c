// The open status shows no internals: GET /api/opencode/status without a valid API token (none, a
// wrong one, another scheme) answers 200 with the summary only, whose fields are a fixed list and
// whose JSON holds no instance pid or port, session id, workspace, token, peer URL or opencode setup;
// with the token (or OCPM_AUTH=disabled) it answers the full document. Never 401: probes keep working.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freeLoopbackPorts } from '../helpers/replica-cluster.js';
import { call, TEST_API_TOKEN, type JsonResponse } from '../helpers/http.js';
import { startTestService, type TestService } from '../helpers/test-service.js';
import { waitFor } from '../helpers/wait-for.js';

const SUMMARY_KEYS = ['activeStreams', 'available', 'detail', 'draining', 'isolation', 'processManager', 'replica', 'runningProcesses', 'state', 'version'];
const SUMMARY_PROCESS_MANAGER_KEYS = ['activeSessions', 'description', 'idleTime', 'isReady', 'isRunning', 'lastActivity', 'mode', 'pendingRequests'];

/** What a caller without a valid token may send: each must get the summary. */
const ANONYMOUS: ReadonlyArray<readonly [string, Record<string, string>]> = [
  ['no token', { authorization: '' }],
  ['a wrong token', { authorization: 'Bearer not-the-token' }],
  ['a prefix of the token', { authorization: `Bearer ${TEST_API_TOKEN.slice(0, -1)}` }],
  ['the token without a scheme', { authorization: TEST_API_TOKEN }],
  ['the token as Basic', { authorization: `Basic ${Buffer.from(`u:${TEST_API_TOKEN}`).toString('base64')}` }],
];

const sortedKeys = (value: object): string[] => Object.keys(value).sort();

/** The number as a JSON value of its own, not a digit run inside a longer one (a timestamp, a byte count). */
function containsNumber(text: string, n: number): boolean {
  return new RegExp(`(?<![0-9.])${n}(?![0-9.])`).test(text);
}

/** The summary's exact shape, and values equal to the full document's. */
function assertSummary(response: JsonResponse, full: Record<string, any>, what: string): string {
  assert.equal(response.status, 200, what);
  assert.equal(response.headers.get('www-authenticate'), null, `${what}: the open status asked for credentials`);
  const body = response.body as Record<string, any>;
  assert.equal(body.detail, 'summary', what);
  assert.deepEqual(sortedKeys(body), SUMMARY_KEYS, what);
  assert.deepEqual(sortedKeys(body.processManager), SUMMARY_PROCESS_MANAGER_KEYS, what);
  assert.deepEqual(body.isolation, { mechanism: full.isolation.mechanism, enforced: full.isolation.enforced }, what);
  for (const key of ['available', 'version', 'state', 'draining', 'replica']) assert.deepEqual(body[key], full[key], `${what}: ${key}`);
  for (const key of ['isRunning', 'isReady', 'mode', 'description'])
    assert.deepEqual(body.processManager[key], full.processManager[key], `${what}: processManager.${key}`);
  const text = JSON.stringify(body);
  for (const key of ['instances', 'pid', 'port', 'rssBytes', 'peers', 'usage', 'opencode', 'sessions', 'lastError', 'unavailableReason']) {
    assert.ok(!text.includes(`"${key}"`), `${what}: the summary has a "${key}" field: ${text}`);
  }
  assert.ok(!text.includes(TEST_API_TOKEN), `${what}: the summary shows the token`);
  assert.doesNotMatch(text, /"\/[^"]*\//, `${what}: the summary shows a path`);
  return text;
}

describe('the open status, server mode', () => {
  let svc: TestService;
  let full: Record<string, any>;
  const sessionId = 'redact-session-7d3e';
  const workspace = 'redact-ws-51ab';
  before(async () => {
    svc = await startTestService({ OCPM_MODE: 'server', OCPM_POOL_SIZE: '2', OCPM_REPLICA_NAME: 'redact-r1' });
    assert.equal((await call(`${svc.url}/api/sessions/${sessionId}`, 'PUT', { workspace })).status, 201);
    assert.equal((await call(`${svc.url}/api/sessions/${sessionId}/messages`, 'POST', { text: 'hi' })).status, 200);
    full = await waitFor('both instances ready, with a pid and a port', async () => {
      const body = (await call(`${svc.url}/api/opencode/status`, 'GET')).body;
      const instances = (body.processManager?.instances ?? []) as Array<{ state: string; pid: unknown; port: unknown }>;
      return instances.length === 2 && instances.every((i) => i.state === 'ready' && typeof i.pid === 'number' && typeof i.port === 'number')
        ? body
        : undefined;
    });
  });
  after(async () => {
    await svc.close();
  });

  it('with the token: the full document, instances with their pid and port', () => {
    assert.equal(full.detail, 'full');
    assert.equal(full.processManager.instances.length, 2);
    assert.equal(full.sessions, 1);
    assert.equal(typeof full.usage.turns, 'number');
    assert.ok(Array.isArray(full.opencode.providers));
    assert.deepEqual(full.peers, []);
  });

  it('without a valid token: 200 and the summary, with no pid, port, session id or workspace anywhere', async () => {
    const instances = full.processManager.instances as Array<{ pid: number; port: number }>;
    for (const [what, headers] of ANONYMOUS) {
      const response = await call(`${svc.url}/api/opencode/status`, 'GET', undefined, headers);
      const text = assertSummary(response, full, what);
      for (const { pid, port } of instances) {
        assert.ok(!containsNumber(text, pid), `${what}: the summary shows the pid ${pid}: ${text}`);
        assert.ok(!containsNumber(text, port), `${what}: the summary shows the port ${port}: ${text}`);
      }
      assert.ok(!text.includes(sessionId) && !text.includes(workspace), `${what}: the summary shows the session: ${text}`);
      assert.equal(response.body.processManager.mode, 'server');
      assert.equal(response.body.replica, 'redact-r1');
    }
  });

  it('a token never turns into a 401, and the answer varies by Authorization', async () => {
    const anonymous = await call(`${svc.url}/api/opencode/status`, 'GET', undefined, { authorization: 'Bearer wrong' });
    const withToken = await call(`${svc.url}/api/opencode/status`, 'GET');
    for (const response of [anonymous, withToken]) {
      assert.equal(response.status, 200);
      assert.match(response.headers.get('vary') ?? '', /\bAuthorization\b/i);
      assert.equal(response.headers.get('cache-control'), 'no-store');
    }
    assert.equal(withToken.body.detail, 'full');
    const head = await fetch(`${svc.url}/api/opencode/status`, { method: 'HEAD' });
    assert.equal(head.status, 200, 'HEAD stays open');
  });
});

describe('the open status with a peer', () => {
  let svc: TestService;
  let peerPort: number;
  before(async () => {
    [peerPort] = (await freeLoopbackPorts(1)) as [number];
    svc = await startTestService({ OCPM_REPLICA_NAME: 'redact-r2', OCPM_PEERS: `http://127.0.0.1:${peerPort}`, OCPM_PEER_PROBE_INTERVAL_MS: '200' });
  });
  after(async () => {
    await svc.close();
  });

  it("shows the peers' URLs and errors with the token only", async () => {
    const full = await waitFor('the peer probed', async () => {
      const body = (await call(`${svc.url}/api/opencode/status`, 'GET')).body;
      return body.peers?.length === 1 && body.peers[0].state === 'down' ? body : undefined;
    });
    assert.match(JSON.stringify(full.peers), new RegExp(`127\\.0\\.0\\.1:${peerPort}`));
    const text = assertSummary(await call(`${svc.url}/api/opencode/status`, 'GET', undefined, { authorization: '' }), full, 'no token');
    assert.ok(!text.includes('127.0.0.1') && !containsNumber(text, peerPort), `the summary shows the peer: ${text}`);
  });
});

describe('the status with OCPM_AUTH=disabled', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService({ OCPM_AUTH: 'disabled', OCPM_API_TOKEN: '' });
  });
  after(async () => {
    await svc.close();
  });

  it('is the full document for everyone, as every other route is open', async () => {
    const response = await call(`${svc.url}/api/opencode/status`, 'GET', undefined, { authorization: '' });
    assert.equal(response.status, 200);
    assert.equal(response.body.detail, 'full');
    assert.equal(typeof response.body.sessions, 'number');
    assert.ok('usage' in response.body);
  });
});
