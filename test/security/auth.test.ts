// Authentication end to end: every /api route but the status needs the bearer token; tokens from the
// environment (several, for rotation), from a file, or generated at first boot and reused; metrics
// behind their own token; OCPM_AUTH=disabled binds to loopback. The status reveals nothing private.
import assert from 'node:assert/strict';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Express } from 'express';
import { routeTableOf } from '../../src/http/route-table.js';
import { makeTempDir } from '../helpers/fixtures.js';
import { call, TEST_API_TOKEN } from '../helpers/http.js';
import { startTestService, type TestService } from '../helpers/test-service.js';

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** Every route of the app's table that needs the API token, with a concrete path. */
function protectedRoutes(svc: TestService): Array<{ method: string; path: string }> {
  return routeTableOf(svc.service.server.listeners('request')[0] as Express)
    .filter((route) => route.security === 'api')
    .map((route) => ({ method: route.method.toUpperCase(), path: route.path.replace(':id', 'auth-probe') }));
}

describe('API authentication', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService({ OCPM_API_TOKEN: `${TEST_API_TOKEN}, second-token-for-rotation`, OCPM_METRICS_TOKEN: 'scrape-token-123' });
  });
  after(async () => {
    await svc.close();
  });
  const url = (p: string): string => `${svc.url}${p}`;

  it('refuses every protected route without a valid token: 401, WWW-Authenticate: Bearer, JSON error', async () => {
    const routes = protectedRoutes(svc);
    assert.ok(routes.length >= 8);
    const wrong: Array<[string, Record<string, string>]> = [
      ['missing', { authorization: '' }],
      ['wrong token', bearer('not-the-token')],
      ['empty bearer', { authorization: 'Bearer ' }],
      ['prefix of the token', bearer(TEST_API_TOKEN.slice(0, -1))],
      ['token plus a suffix', bearer(`${TEST_API_TOKEN}x`)],
      ['basic scheme', { authorization: `Basic ${Buffer.from(`u:${TEST_API_TOKEN}`).toString('base64')}` }],
      ['token without scheme', { authorization: TEST_API_TOKEN }],
      ['two tokens', { authorization: `Bearer ${TEST_API_TOKEN} ${TEST_API_TOKEN}` }],
      ['metrics token on the API', bearer('scrape-token-123')],
    ];
    for (const route of routes) {
      for (const [name, headers] of wrong) {
        const response = await call(
          url(route.path),
          route.method,
          route.method === 'PUT' || route.method === 'POST' ? { text: 'x', workspace: 'x' } : undefined,
          headers,
        );
        assert.equal(response.status, 401, `${route.method} ${route.path} with ${name}`);
        assert.equal(response.body.error.code, 'unauthorized');
        assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer\b/);
      }
    }
    // Nothing was registered by any of those calls.
    assert.equal((await call(url('/api/sessions'), 'GET')).body.sessions.length, 0);
  });

  it('accepts every configured token (rotation) and the scheme in any case', async () => {
    for (const headers of [bearer(TEST_API_TOKEN), bearer('second-token-for-rotation'), { authorization: `bearer ${TEST_API_TOKEN}` }]) {
      const response = await call(url('/api/sessions'), 'GET', undefined, headers);
      assert.equal(response.status, 200);
    }
  });

  it('checks the token before reading the body: an unauthenticated huge body is a 401, not a 413', async () => {
    const response = await call(url('/api/sessions/big/messages'), 'POST', JSON.stringify({ text: 'x'.repeat(3 * 1024 * 1024) }), { authorization: '' });
    assert.equal(response.status, 401);
  });

  it('keeps probes and the status open, and /metrics behind OCPM_METRICS_TOKEN', async () => {
    for (const p of ['/livez', '/readyz', '/api/opencode/status']) {
      assert.equal((await call(url(p), 'GET', undefined, { authorization: '' })).status, 200, p);
    }
    const closed = await call(url('/metrics'), 'GET', undefined, { authorization: '' });
    assert.equal(closed.status, 401);
    assert.match(closed.headers.get('www-authenticate') ?? '', /^Bearer/);
    assert.equal((await call(url('/metrics'), 'GET', undefined, bearer(TEST_API_TOKEN))).status, 401, 'an API token is not a metrics token');
    const open = await call(url('/metrics'), 'GET', undefined, bearer('scrape-token-123'));
    assert.equal(open.status, 200);
    assert.match(String(open.body), /opencode_manager_sessions/);
  });

  it('reveals no token, path or session id in the open status', async () => {
    const id = 'private-session-4f2a';
    assert.equal((await call(url(`/api/sessions/${id}`), 'PUT', { workspace: 'private-ws-9c1d' })).status, 201);
    assert.equal((await call(url(`/api/sessions/${id}/messages`), 'POST', { text: 'hi' })).status, 200);
    const text = JSON.stringify((await call(url('/api/opencode/status'), 'GET', undefined, { authorization: '' })).body);
    for (const secret of [id, 'private-ws-9c1d', TEST_API_TOKEN, 'scrape-token-123', svc.workspaceRoot])
      assert.ok(!text.includes(secret), `status shows ${secret}`);
    assert.doesNotMatch(text, /"\/[^"]*\//, 'status shows a path');
  });
});

describe('API token sources', () => {
  let temp: { dir: string; remove: () => Promise<void> };
  before(async () => {
    temp = await makeTempDir('tokens');
  });
  after(async () => {
    await temp.remove();
  });

  it('generates a token at first boot (mode 0600), logs the file but never the token, and reuses it', async () => {
    const dataDir = path.join(temp.dir, 'generated-data');
    const first = await startTestService({ OCPM_API_TOKEN: '', OCPM_DATA_DIR: dataDir, OCPM_LOG_LEVEL: 'info' });
    let token: string;
    try {
      const file = path.join(dataDir, 'api-token');
      token = (await readFile(file, 'utf8')).trim();
      assert.ok(token.length >= 32);
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      const logText = first.logs.map((line) => JSON.stringify(line)).join('\n');
      assert.ok(logText.includes(file), 'the log does not say where the token is');
      assert.ok(!logText.includes(token), 'the generated token reached the log');
      assert.equal((await call(`${first.url}/api/sessions`, 'GET', undefined, bearer(token))).status, 200);
      assert.equal((await call(`${first.url}/api/sessions`, 'GET')).status, 401);
    } finally {
      await first.close();
    }
    const second = await startTestService({ OCPM_API_TOKEN: '', OCPM_DATA_DIR: dataDir });
    try {
      assert.equal((await readFile(path.join(dataDir, 'api-token'), 'utf8')).trim(), token, 'a second boot made a new token');
      assert.equal((await call(`${second.url}/api/sessions`, 'GET', undefined, bearer(token))).status, 200);
    } finally {
      await second.close();
    }
  });

  it('reads tokens from OCPM_API_TOKEN_FILE (a mounted Secret), one per line or comma-separated', async () => {
    const file = path.join(temp.dir, 'secret', 'token');
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, '# rotated 2026-11\nfile-token-one\nfile-token-two, file-token-three\n');
    const svc = await startTestService({ OCPM_API_TOKEN: '', OCPM_API_TOKEN_FILE: file });
    try {
      for (const token of ['file-token-one', 'file-token-two', 'file-token-three']) {
        assert.equal((await call(`${svc.url}/api/sessions`, 'GET', undefined, bearer(token))).status, 200, token);
      }
      assert.equal((await call(`${svc.url}/api/sessions`, 'GET', undefined, bearer('# rotated 2026-11'))).status, 401);
    } finally {
      await svc.close();
    }
  });

  it('refuses to boot with an empty token file', async () => {
    const file = path.join(temp.dir, 'empty-token');
    await writeFile(file, '\n# nothing\n');
    await assert.rejects(startTestService({ OCPM_API_TOKEN: '', OCPM_API_TOKEN_FILE: file }), /OCPM_API_TOKEN_FILE/);
  });

  it('OCPM_AUTH=disabled serves without a token, binds to 127.0.0.1 whatever HOST says, and warns', async () => {
    const svc = await startTestService({ OCPM_AUTH: 'disabled', OCPM_API_TOKEN: '', HOST: '0.0.0.0' });
    try {
      assert.equal((svc.service.server.address() as AddressInfo).address, '127.0.0.1');
      assert.equal((await call(`${svc.url}/api/sessions`, 'GET', undefined, { authorization: '' })).status, 200);
      assert.ok(svc.logs.some((line) => line.level === 'warn' && String(line.message).includes('OCPM_AUTH=disabled')));
    } finally {
      await svc.close();
    }
  });
});
