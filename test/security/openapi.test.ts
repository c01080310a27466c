// The OpenAPI document: valid OpenAPI 3.1, built from the routes' own schemas, and in step with the
// app: every route the app has is documented, and every documented route answers (no 404).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { call } from '../helpers/http.js';
import { routesOf } from '../helpers/express-routes.js';
import { startTestService, type TestService } from '../helpers/test-service.js';

interface Document {
  openapi: string;
  paths: Record<string, Record<string, { security: unknown[]; requestBody?: { content: Record<string, { schema: Record<string, unknown> }> } }>>;
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
    const result = await new Validator().validate(doc as unknown as Parameters<Validator["validate"]>[0]);
    assert.deepEqual(result, { valid: true });
  });

  it('documents every route the app has, and nothing it does not have', () => {
    const fromApp = routesOf(svc.service.server).map((r) => `${r.method.toUpperCase()} ${r.path.replace(/:([A-Za-z]+)/g, '{$1}')}`).sort();
    const fromDoc = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`)).sort();
    assert.ok(fromApp.length >= 10, `only ${fromApp.length} routes found: the router walk is broken`);
    assert.deepEqual(fromDoc, fromApp);
  });

  it('every documented route answers with something other than a route 404', async () => {
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops)) {
        const response = await call(`${svc.url}${path.replace('{id}', 'doc-probe')}`, method.toUpperCase(), method === 'put' ? { workspace: 'doc-probe' } : undefined);
        const code = (response.body as { error?: { code?: string } }).error?.code;
        assert.notEqual(code, 'not_found', `${method.toUpperCase()} ${path} is documented but the app has no such route`);
      }
    }
  });

  it('uses the same schemas as the routes: limits and closed objects come through', () => {
    const message = doc.paths['/api/sessions/{id}/messages']?.post?.requestBody?.content['application/json']?.schema;
    assert.ok(message !== undefined);
    assert.equal(message.additionalProperties, false);
    assert.equal((message.properties as Record<string, { maxLength?: number }>).text?.maxLength, 1234);
    assert.deepEqual(doc.paths['/api/opencode/status']?.get?.security, [], 'the status route is open');
    assert.deepEqual(doc.paths['/api/sessions']?.get?.security, [{ bearer: [] }]);
  });
});
