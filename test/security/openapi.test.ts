// The OpenAPI document: valid OpenAPI 3.1, built from the routes' own schemas, and in step with the
// app: it lists exactly the route table the app mounted, every route of that table answers (none
// with the app's 404), and every documented operation answers as documented (a documented status,
// content type and body shape; 401 where it needs a token).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { Express } from 'express';
import { z } from 'zod';
import { routeTableOf, type Route } from '../../src/http/route-table.js';
import { call, TEST_API_TOKEN, type JsonResponse } from '../helpers/http.js';
import { startTestService, type TestService } from '../helpers/test-service.js';
import { waitFor } from '../helpers/wait-for.js';

interface Reply {
  description: string;
  content?: Record<string, { schema: Record<string, unknown> }>;
}

interface Operation {
  security: unknown[];
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, Reply>;
}

interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
}

/** Fails unless `response` is one of the operation's documented replies, with its content type and body shape. */
function assertDocumented(doc: Document, method: string, path: string, response: JsonResponse): void {
  const where = `${method.toUpperCase()} ${path} answered ${response.status}`;
  const operation = doc.paths[path]?.[method];
  assert.ok(operation !== undefined, `${method.toUpperCase()} ${path} is not documented`);
  const reply = operation.responses[String(response.status)];
  assert.ok(
    reply !== undefined,
    `${where}, which is not among its documented statuses ${Object.keys(operation.responses).join(', ')}: ${JSON.stringify(response.body)}`,
  );
  if (reply.content === undefined) {
    if (response.status === 204) assert.equal(response.body, '', `${where} with a body`);
    return;
  }
  const [mediaType, { schema }] = Object.entries(reply.content)[0] as [string, { schema: Record<string, unknown> }];
  assert.ok((response.headers.get('content-type') ?? '').startsWith(mediaType), `${where} as ${response.headers.get('content-type')}, documented ${mediaType}`);
  // The document's own JSON Schema, read back independently of the zod schemas it was built from.
  const checked = z.fromJSONSchema(schema).safeParse(response.body);
  assert.ok(checked.success, `${where} with a body that does not match the document: ${JSON.stringify(response.body)}\n${checked.error?.message}`);
}

describe('OpenAPI document', () => {
  let svc: TestService;
  let doc: Document;
  before(async () => {
    svc = await startTestService({ OCPM_MAX_MESSAGE_CHARS: '1234' });
    const response = await call(`${svc.url}/api/openapi.json`, 'GET');
    assert.equal(response.status, 200);
    doc = response.body as Document;
  });
  after(async () => {
    await svc.close();
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    assert.equal(doc.openapi, '3.1.0');
    const result = await new Validator().validate(doc as unknown as Parameters<Validator['validate']>[0]);
    assert.deepEqual(result, { valid: true });
  });

  /** The table the running app mounted (createApp keeps it in app.locals). */
  const table = (): readonly Route[] => routeTableOf(svc.service.server.listeners('request')[0] as Express);

  it("lists exactly the app's route table, but the replica-to-replica routes", () => {
    const routes = table();
    assert.ok(routes.length >= 10, `only ${routes.length} routes in the table`);
    const fromTable = routes
      .filter((route) => route.security !== 'peer')
      .map((route) => `${route.method.toUpperCase()} ${route.path.replace(/:([A-Za-z]+)/g, '{$1}')}`)
      .sort();
    const fromDoc = Object.entries(doc.paths)
      .flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`))
      .sort();
    assert.deepEqual(fromDoc, fromTable);
  });

  it("mounts every route of the table: each answers something other than the app's 404 not_found", async () => {
    /** One request with the token; a stream is not read, only its status. */
    const answer = async (method: string, path: string, body?: unknown): Promise<{ status: number; code: unknown }> => {
      const cancel = new AbortController();
      const response = await fetch(`${svc.url}${path}`, {
        method,
        redirect: 'manual',
        signal: cancel.signal,
        headers: { authorization: `Bearer ${TEST_API_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      if ((response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
        cancel.abort();
        return { status: response.status, code: undefined };
      }
      const text = await response.text();
      const code: unknown = (response.headers.get('content-type') ?? '').includes('json')
        ? (JSON.parse(text) as { error?: { code?: unknown } }).error?.code
        : undefined;
      return { status: response.status, code };
    };
    // The check itself: a route the app does not have gets the 404 not_found it looks for.
    assert.deepEqual(await answer('GET', '/api/no-such-route'), { status: 404, code: 'not_found' });
    assert.deepEqual(await answer('POST', '/api/sessions/table-probe/no-such-action', { refused: true }), { status: 404, code: 'not_found' });
    for (const route of table()) {
      // A session that does not exist and a body every schema refuses: nothing is changed.
      const path = route.path.replace(/:([A-Za-z]+)/g, 'table-probe');
      const got = await answer(route.method.toUpperCase(), path, route.method === 'get' ? undefined : { refused: true });
      const where = `${route.method.toUpperCase()} ${route.path} answered ${got.status} ${String(got.code)}`;
      assert.ok(!(got.status === 404 && got.code === 'not_found'), `${where}: the table has it, the app does not`);
      assert.notEqual(got.status, 401, `${where} with a valid token`);
    }
  });

  it('every documented operation answers with a documented status and body, and 401 without a token where it needs one', async () => {
    const id = 'doc-probe';
    const seen = new Set<string>();
    const expect = async (method: string, path: string, status: number, body?: unknown, headers: Record<string, string> = {}): Promise<JsonResponse> => {
      const response = await call(
        `${svc.url}${path.replace('{id}', id).replace('{requestId}', 'per_unknown').replace('{name}', 'serve-0')}`,
        method.toUpperCase(),
        body,
        headers,
      );
      const template = path.split('?')[0]!;
      assertDocumented(doc, method, template, response);
      assert.equal(response.status, status, `${method.toUpperCase()} ${path}: ${JSON.stringify(response.body)}`);
      seen.add(`${method} ${template}`);
      return response;
    };
    await expect('put', '/api/sessions/{id}', 201, { workspace: id });
    await expect('put', '/api/sessions/{id}', 200, { workspace: id });
    await expect('get', '/api/sessions', 200);
    await expect('get', '/api/sessions?state=idle&limit=1&offset=0', 200);
    await expect('get', '/api/sessions?state=sleeping', 400);
    await expect('get', '/api/sessions/{id}', 200);
    await expect('post', '/api/sessions/{id}/messages', 200, { text: 'hi' });
    await expect('get', '/api/sessions/{id}/messages', 200);
    await expect('post', '/api/sessions/{id}/abort', 409);
    await expect('get', '/api/sessions/{id}/pending', 200);
    await expect('post', '/api/sessions/{id}/usage/reset', 200);
    await expect('post', '/api/sessions/{id}/permissions/{requestId}', 404, { reply: 'once' });
    await expect('post', '/api/sessions/{id}/permissions/{requestId}', 400, { reply: 'maybe' });
    await expect('post', '/api/sessions/{id}/questions/{requestId}', 404, { answers: [['a']] });
    await expect('post', '/api/sessions/{id}/questions/{requestId}', 400, { reject: false });
    const running = call(`${svc.url}/api/sessions/${id}/messages`, 'POST', { text: '#fake hang\nto abort' });
    await waitFor('the turn to run', async () => (await call(`${svc.url}/api/opencode/status`, 'GET')).body.runningTurns === 1);
    await expect('post', '/api/sessions/{id}/abort', 202);
    const aborted = await running;
    assertDocumented(doc, 'post', '/api/sessions/{id}/messages', aborted);
    assert.equal(aborted.status, 409);
    await expect('post', '/api/sessions/{id}/reset', 200);
    await expect('post', '/api/instances/{name}/restart', 409);
    await expect('post', '/api/instances/{name}/restart?timeoutMs=-1', 400);
    const detail = (response: JsonResponse): unknown => (response.body as { detail?: unknown }).detail;
    assert.equal(detail(await expect('get', '/api/opencode/status', 200)), 'full');
    assert.equal(detail(await expect('get', '/api/opencode/status', 200, undefined, { authorization: '' })), 'summary', 'the open summary is documented');
    await expect('get', '/api/openapi.json', 200);
    await expect('get', '/livez', 200);
    await expect('get', '/readyz', 200);
    await expect('get', '/metrics', 200);
    await expect('get', '/console', 200);
    await expect('get', '/console/vocabulary.js', 200);
    // Not followed: the operation answers the redirect itself.
    const root = await fetch(`${svc.url}/`, { redirect: 'manual' });
    assertDocumented(doc, 'get', '/', { status: root.status, headers: root.headers, body: await root.text() });
    assert.equal(root.headers.get('location'), '/console');
    seen.add('get /');
    // The console's stream stays open: its headers are checked, then it is cancelled.
    const events = new AbortController();
    const stream = await fetch(`${svc.url}/api/events`, { headers: { authorization: `Bearer ${TEST_API_TOKEN}` }, signal: events.signal });
    assertDocumented(doc, 'get', '/api/events', { status: stream.status, headers: stream.headers, body: '' });
    assert.equal(stream.status, 200);
    events.abort();
    seen.add('get /api/events');
    await expect('delete', '/api/sessions/{id}', 204);
    await expect('get', '/api/sessions/{id}', 404);
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method} ${path}`));
    assert.deepEqual([...seen].sort(), documented.sort(), 'an operation of the document is not exercised here');
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(ops)) {
        if (JSON.stringify(operation.security) !== JSON.stringify([{ bearer: [] }])) continue;
        const body = method === 'put' ? { workspace: id } : method === 'post' ? {} : undefined;
        await expect(method, path, 401, body, { authorization: '' });
      }
    }
  });

  it('uses the same schemas as the routes: limits and closed objects come through', () => {
    const message = doc.paths['/api/sessions/{id}/messages']?.post?.requestBody?.content['application/json']?.schema;
    assert.ok(message !== undefined);
    assert.equal(message.additionalProperties, false);
    assert.equal((message.properties as Record<string, { maxLength?: number }>).text?.maxLength, 1234);
    assert.deepEqual(doc.paths['/api/opencode/status']?.get?.security, [{ bearer: [] }, {}], 'the status route is open, and takes the token');
    assert.equal(doc.paths['/api/opencode/status']?.get?.responses['401'], undefined, 'the status route never answers 401');
    assert.deepEqual(doc.paths['/api/sessions']?.get?.security, [{ bearer: [] }]);
  });
});
