// Hostile input, table-driven: every case must get the right 4xx with a JSON error that leaks no path
// or stack, no case may start an opencode child, and the service must keep serving afterwards.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call, TEST_API_TOKEN } from '../helpers/http.js';
import { startTestService, type TestService } from '../helpers/test-service.js';

const MAX_CHARS = 1000;

interface Case {
  readonly name: string;
  readonly method: string;
  readonly path: string;
  /** A value is sent as JSON; a string as the raw body. */
  readonly body?: unknown;
  readonly raw?: string;
  readonly headers?: Record<string, string>;
  readonly status: number;
  readonly code: string;
}

const deepArray = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);
const deepObject = (depth: number): string => `{"text":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`;

function workspaceCases(outside: string, root: () => string): Case[] {
  const put = (name: string, workspace: unknown, status = 400, code = 'invalid_workspace'): Case => ({
    name: `workspace ${name}`,
    method: 'PUT',
    path: '/api/sessions/ws-case',
    body: { workspace },
    status,
    code,
  });
  return [
    put('../ escape', '../outside'),
    put('bare ..', '..'),
    put('.. in the middle', 'a/../../outside'),
    put('deep .. chain', 'a/b/c/../../../../outside'),
    put('absolute outside', outside),
    put('/etc', '/etc'),
    put('//etc', '//etc'),
    put('/proc/self/root', '/proc/self/root'),
    put('symlink leading out', 'escape'),
    put('path through an outward symlink', 'escape/deeper'),
    put('symlink to a file', 'link-to-file'),
    put('a file', 'a-file'),
    put('the root as .', '.'),
    put('the root as ./', './'),
    put('NUL byte', 'a\0b'),
    put('bidi override', 'safe\u202eexe.sh'),
    put('newline', 'a\nb'),
    put('empty string', '', 400, 'invalid_request'),
    put('5000 characters', 'x'.repeat(5000), 400, 'invalid_request'),
    put('a number', 5, 400, 'invalid_request'),
    put('null', null, 400, 'invalid_request'),
    put('an array', ['a'], 400, 'invalid_request'),
    put('an object', { path: 'a' }, 400, 'invalid_request'),
    {
      name: 'workspace: the root by its absolute path',
      method: 'PUT',
      path: '/api/sessions/ws-case',
      get body() {
        return { workspace: root() };
      },
      status: 400,
      code: 'invalid_workspace',
    },
    {
      name: 'no workspace without OCPM_AUTO_CREATE_WORKSPACES',
      method: 'PUT',
      path: '/api/sessions/ws-case',
      body: {},
      status: 400,
      code: 'invalid_workspace',
    },
  ];
}

const idCases: Case[] = [
  {
    name: 'id with CRLF header injection',
    method: 'PUT',
    path: '/api/sessions/a%0d%0aSet-Cookie:%20x=y',
    body: { workspace: 'w' },
    status: 400,
    code: 'invalid_request',
  },
  { name: 'id of 129 characters', method: 'GET', path: `/api/sessions/${'a'.repeat(129)}`, status: 400, code: 'invalid_request' },
  { name: 'id with a non-ASCII letter', method: 'GET', path: '/api/sessions/%C3%A9', status: 400, code: 'invalid_request' },
  { name: 'id with a fullwidth letter', method: 'GET', path: '/api/sessions/%EF%BC%A1', status: 400, code: 'invalid_request' },
  // The URL parser folds %2e%2e into `..` and resolves it: the request never names a session.
  { name: 'id ..', method: 'GET', path: '/api/sessions/%2e%2e', status: 404, code: 'not_found' },
  { name: 'id .', method: 'DELETE', path: '/api/sessions/.x', status: 400, code: 'invalid_request' },
  { name: 'id with an encoded slash', method: 'DELETE', path: '/api/sessions/a%2Fb', status: 400, code: 'invalid_request' },
  { name: 'id with NUL', method: 'GET', path: '/api/sessions/a%00', status: 400, code: 'invalid_request' },
  { name: 'malformed %-escape', method: 'GET', path: '/api/sessions/%E0%A4%A', status: 400, code: 'invalid_request' },
  { name: 'lone %', method: 'POST', path: '/api/sessions/%/abort', status: 400, code: 'invalid_request' },
  { name: 'unknown method on a route', method: 'PATCH', path: '/api/sessions/target', body: {}, status: 404, code: 'not_found' },
];

const msg = '/api/sessions/target/messages';
const bodyCases: Case[] = [
  {
    name: 'body over OCPM_MAX_BODY_BYTES',
    method: 'POST',
    path: msg,
    raw: JSON.stringify({ text: 'x'.repeat(2 * 1024 * 1024) }),
    status: 413,
    code: 'payload_too_large',
  },
  { name: 'deeply nested arrays', method: 'POST', path: msg, raw: deepArray(100_000), status: 400, code: 'invalid_request' },
  { name: 'deeply nested objects', method: 'POST', path: msg, raw: deepObject(20_000), status: 400, code: 'invalid_request' },
  { name: 'truncated JSON', method: 'POST', path: msg, raw: '{"text":', status: 400, code: 'invalid_json' },
  { name: 'JSON null', method: 'POST', path: msg, raw: 'null', status: 400, code: 'invalid_json' },
  { name: 'JSON string', method: 'POST', path: msg, raw: '"hi"', status: 400, code: 'invalid_json' },
  { name: 'JSON array', method: 'POST', path: msg, raw: '[{"text":"hi"}]', status: 400, code: 'invalid_request' },
  { name: 'no body', method: 'POST', path: msg, status: 400, code: 'invalid_request' },
  { name: 'text a number', method: 'POST', path: msg, body: { text: 5 }, status: 400, code: 'invalid_request' },
  { name: 'text null', method: 'POST', path: msg, body: { text: null }, status: 400, code: 'invalid_request' },
  { name: 'text an array', method: 'POST', path: msg, body: { text: ['hi'] }, status: 400, code: 'invalid_request' },
  { name: 'text an object', method: 'POST', path: msg, body: { text: { toString: 'hi' } }, status: 400, code: 'invalid_request' },
  { name: 'text empty', method: 'POST', path: msg, body: { text: '' }, status: 400, code: 'invalid_request' },
  { name: 'text blank', method: 'POST', path: msg, body: { text: ' \n\t\u00a0' }, status: 400, code: 'invalid_request' },
  { name: 'text over the limit', method: 'POST', path: msg, body: { text: 'x'.repeat(MAX_CHARS + 1) }, status: 400, code: 'invalid_request' },
  { name: 'unknown field', method: 'POST', path: msg, body: { text: 'hi', priority: 'high' }, status: 400, code: 'invalid_request' },
  { name: '__proto__ pollution', method: 'POST', path: msg, raw: '{"text":"hi","__proto__":{"polluted":true}}', status: 400, code: 'invalid_request' },
  {
    name: 'constructor.prototype pollution',
    method: 'POST',
    path: msg,
    raw: '{"text":"hi","constructor":{"prototype":{"polluted":true}}}',
    status: 400,
    code: 'invalid_request',
  },
  { name: 'duplicate key, last one wrong', method: 'POST', path: msg, raw: '{"text":"hi","text":5}', status: 400, code: 'invalid_request' },
  { name: 'model that reads as a flag', method: 'POST', path: msg, body: { text: 'hi', model: '--model=a/b' }, status: 400, code: 'invalid_request' },
  { name: 'model starting with -', method: 'POST', path: msg, body: { text: 'hi', model: '-a/b' }, status: 400, code: 'invalid_request' },
  { name: 'model with a newline', method: 'POST', path: msg, body: { text: 'hi', model: 'a/b\n--x' }, status: 400, code: 'invalid_request' },
  { name: 'agent that reads as a flag', method: 'POST', path: msg, body: { text: 'hi', agent: '--agent' }, status: 400, code: 'invalid_request' },
  { name: 'agent with a space', method: 'POST', path: msg, body: { text: 'hi', agent: 'build --yolo' }, status: 400, code: 'invalid_request' },
  {
    name: 'text/plain body',
    method: 'POST',
    path: msg,
    raw: '{"text":"hi"}',
    headers: { 'content-type': 'text/plain' },
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'form body',
    method: 'POST',
    path: msg,
    raw: 'text=hi',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'multipart body',
    method: 'POST',
    path: msg,
    raw: '--b\r\n\r\nhi\r\n--b--',
    headers: { 'content-type': 'multipart/form-data; boundary=b' },
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'JSON in UTF-16',
    method: 'POST',
    path: msg,
    raw: '{"text":"hi"}',
    headers: { 'content-type': 'application/json; charset=utf-16' },
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'unknown content-encoding',
    method: 'POST',
    path: msg,
    raw: '{"text":"hi"}',
    headers: { 'content-encoding': 'x-evil' },
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'corrupt gzip body',
    method: 'POST',
    path: msg,
    raw: 'not gzip at all',
    headers: { 'content-encoding': 'gzip' },
    status: 400,
    code: 'invalid_request',
  },
  {
    name: 'PUT body as text/plain',
    method: 'PUT',
    path: '/api/sessions/target',
    raw: '{"workspace":"t"}',
    headers: { 'content-type': 'text/plain' },
    status: 415,
    code: 'unsupported_media_type',
  },
  { name: 'abort with a body', method: 'POST', path: '/api/sessions/target/abort', body: { force: true }, status: 400, code: 'invalid_request' },
  { name: 'delete with a body', method: 'DELETE', path: '/api/sessions/target', body: { cascade: true }, status: 400, code: 'invalid_request' },
];

const queryCases: Case[] = [
  { name: 'unknown query on the list', method: 'GET', path: '/api/sessions?admin=1', status: 400, code: 'invalid_request' },
  { name: 'unknown query on a message', method: 'POST', path: `${msg}?debug=1`, body: { text: 'hi' }, status: 400, code: 'invalid_request' },
  { name: 'limit 0', method: 'GET', path: `${msg}?limit=0`, status: 400, code: 'invalid_request' },
  { name: 'limit 101', method: 'GET', path: `${msg}?limit=101`, status: 400, code: 'invalid_request' },
  { name: 'limit not a number', method: 'GET', path: `${msg}?limit=abc`, status: 400, code: 'invalid_request' },
  { name: 'limit in exponent form', method: 'GET', path: `${msg}?limit=1e3`, status: 400, code: 'invalid_request' },
  { name: 'limit negative', method: 'GET', path: `${msg}?limit=-1`, status: 400, code: 'invalid_request' },
  { name: 'limit twice', method: 'GET', path: `${msg}?limit=1&limit=2`, status: 400, code: 'invalid_request' },
  { name: 'limit as an array', method: 'GET', path: `${msg}?limit[]=1`, status: 400, code: 'invalid_request' },
];

const tokenCases: Case[] = [
  { name: 'no token', method: 'GET', path: '/api/sessions', headers: { authorization: '' }, status: 401, code: 'unauthorized' },
  { name: 'empty bearer', method: 'POST', path: msg, body: { text: 'hi' }, headers: { authorization: 'Bearer' }, status: 401, code: 'unauthorized' },
  { name: 'wrong token', method: 'POST', path: msg, body: { text: 'hi' }, headers: { authorization: 'Bearer wrong' }, status: 401, code: 'unauthorized' },
  {
    name: 'token with a zero-width space',
    method: 'GET',
    path: '/api/sessions',
    headers: { authorization: `Bearer ${TEST_API_TOKEN}\u200b`.replace('\u200b', '%E2%80%8B') },
    status: 401,
    code: 'unauthorized',
  },
  {
    name: 'token in the query string',
    method: 'GET',
    path: `/api/sessions?access_token=${TEST_API_TOKEN}`,
    headers: { authorization: '' },
    status: 401,
    code: 'unauthorized',
  },
];

describe('hostile input', () => {
  let svc: TestService;
  let outside: string;
  before(async () => {
    svc = await startTestService({ OCPM_MAX_MESSAGE_CHARS: String(MAX_CHARS), OCPM_RATE_LIMIT_PER_MIN: '0' });
    outside = path.join(path.dirname(svc.workspaceRoot), 'outside');
    await mkdir(path.join(outside, 'deeper'), { recursive: true });
    await symlink(outside, path.join(svc.workspaceRoot, 'escape'));
    await writeFile(path.join(svc.workspaceRoot, 'a-file'), 'x');
    await symlink(path.join(svc.workspaceRoot, 'a-file'), path.join(svc.workspaceRoot, 'link-to-file'));
    assert.equal((await call(`${svc.url}/api/sessions/target`, 'PUT', { workspace: 'target' })).status, 201);
  });
  after(async () => {
    await svc.close();
  });

  const groups: Array<[string, () => Case[]]> = [
    ['workspaces', () => workspaceCases(outside, () => svc.workspaceRoot)],
    ['ids and paths', () => idCases],
    ['bodies and content types', () => bodyCases],
    ['queries', () => queryCases],
    ['tokens', () => tokenCases],
  ];
  for (const [group, cases] of groups) {
    it(`answers every hostile ${group} case with the right 4xx and a clean JSON error`, async () => {
      for (const c of cases()) {
        const headers = { ...(c.headers ?? {}) };
        if (c.raw !== undefined) headers['content-type'] ??= 'application/json';
        const response = await call(`${svc.url}${c.path}`, c.method, c.raw ?? c.body, headers);
        assert.equal(response.status, c.status, `${c.name}: got ${response.status} ${JSON.stringify(response.body).slice(0, 200)}`);
        const error = (response.body as { error?: { code?: string; message?: string } }).error;
        assert.equal(error?.code, c.code, c.name);
        const message = error?.message ?? '';
        assert.doesNotMatch(message, /\n\s+at |node_modules|\/tmp\/|ocpm-test/, `${c.name}: the error leaks a stack or path: ${message}`);
        assert.equal(response.headers.get('set-cookie'), null, c.name);
        assert.equal(response.headers.get('x-powered-by'), null, c.name);
      }
    });
  }

  it('was not polluted, spawned nothing for any of it, and still serves', async () => {
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(existsSync(path.join(svc.recordDir, 'runs.jsonl')), false, 'an invalid request started opencode');
    assert.equal(existsSync(path.join(outside, 'ws-case')), false);
    assert.equal((await call(`${svc.url}/livez`, 'GET')).status, 200);
    const ok = await call(`${svc.url}${msg}`, 'POST', { text: '--help me, this is text and not a flag' });
    assert.equal(ok.status, 200);
    assert.match(ok.body.text, /--help me, this is text and not a flag/);
  });

  it('keeps a workspace with lookalike unicode dots inside the root', async () => {
    const response = await call(`${svc.url}/api/sessions/lookalike`, 'PUT', { workspace: '\uff0e\uff0e/outside' });
    assert.equal(response.status, 201);
    assert.ok(response.body.workspace.startsWith(`${svc.workspaceRoot}${path.sep}`));
  });
});
