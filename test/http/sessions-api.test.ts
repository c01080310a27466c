// The session routes, validation and error shapes over real HTTP.
import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call } from '../helpers/http.js';
import { startTestService, type TestService } from '../helpers/test-service.js';

describe('session API', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService();
  });
  after(async () => {
    await svc.close();
  });

  const url = (p: string): string => `${svc.url}${p}`;

  it('PUT creates (201) then updates (200) a session, GET shows it, DELETE removes it', async () => {
    const created = await call(url('/api/sessions/alpha'), 'PUT', { workspace: 'alpha-ws' });
    assert.equal(created.status, 201);
    assert.equal(created.body.id, 'alpha');
    assert.equal(created.body.workspace, path.join(svc.workspaceRoot, 'alpha-ws'));
    assert.equal(created.body.busy, false);
    assert.equal(created.body.messageCount, 0);
    assert.equal(created.body.opencodeSessionId, null);

    const updated = await call(url('/api/sessions/alpha'), 'PUT', { workspace: path.join(svc.workspaceRoot, 'alpha-ws') });
    assert.equal(updated.status, 200);

    const shown = await call(url('/api/sessions/alpha'), 'GET');
    assert.equal(shown.status, 200);
    assert.equal(shown.body.id, 'alpha');
    assert.equal(typeof shown.body.lastActivity, 'number');

    const listed = await call(url('/api/sessions'), 'GET');
    assert.equal(listed.status, 200);
    assert.ok(listed.body.sessions.some((s: { id: string }) => s.id === 'alpha'));

    const removed = await call(url('/api/sessions/alpha'), 'DELETE');
    assert.equal(removed.status, 204);
    assert.equal((await call(url('/api/sessions/alpha'), 'GET')).status, 404);
    assert.equal((await call(url('/api/sessions/alpha'), 'DELETE')).status, 404);
  });

  it('rejects bad session ids and bodies with 400 invalid_request', async () => {
    const badId = await call(url('/api/sessions/bad.id'), 'PUT', { workspace: 'w' });
    assert.equal(badId.status, 400);
    assert.equal(badId.body.error.code, 'invalid_request');
    const tooLong = await call(url(`/api/sessions/${'a'.repeat(129)}`), 'GET');
    assert.equal(tooLong.status, 400);
    const unknownField = await call(url('/api/sessions/beta'), 'PUT', { workspace: 'w', extra: 1 });
    assert.equal(unknownField.status, 400);
    assert.equal(unknownField.body.error.code, 'invalid_request');
    const missing = await call(url('/api/sessions/beta'), 'PUT', {});
    assert.equal(missing.status, 400);
    assert.match(missing.body.error.message, /workspace/);
    const noBody = await call(url('/api/sessions/beta'), 'PUT');
    assert.equal(noBody.status, 400);
  });

  it('answers malformed JSON with 400 invalid_json, wrong content type with 415, huge bodies with 413', async () => {
    const malformed = await call(url('/api/sessions/beta'), 'PUT', '{"workspace": ');
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.error.code, 'invalid_json');
    const text = await call(url('/api/sessions/beta'), 'PUT', 'workspace=w', { 'content-type': 'text/plain' });
    assert.equal(text.status, 415);
    assert.equal(text.body.error.code, 'unsupported_media_type');
    const huge = await call(url('/api/sessions/beta'), 'PUT', { workspace: 'x'.repeat(2 * 1024 * 1024) });
    assert.equal(huge.status, 413);
    assert.equal(huge.body.error.code, 'payload_too_large');
  });

  it('confines workspaces to the workspace root', async () => {
    const outside = path.join(path.dirname(svc.workspaceRoot), 'outside');
    await mkdir(outside, { recursive: true });
    await symlink(outside, path.join(svc.workspaceRoot, 'escape'));
    await writeFile(path.join(svc.workspaceRoot, 'a-file'), 'x');
    for (const workspace of ['../outside', outside, '/etc', 'escape', 'escape/deeper', 'a-file', '.', svc.workspaceRoot, 'a\0b']) {
      const response = await call(url('/api/sessions/gamma'), 'PUT', { workspace });
      assert.equal(response.status, 400, `workspace ${JSON.stringify(workspace)} was accepted`);
      assert.equal(response.body.error.code, 'invalid_workspace');
      assert.doesNotMatch(response.body.error.message, /\/tmp|ocpm-test/, 'the error leaks a path');
    }
    const nested = await call(url('/api/sessions/gamma'), 'PUT', { workspace: 'projects/gamma' });
    assert.equal(nested.status, 201);
  });

  it('answers unknown routes with a JSON 404 and sends helmet headers without x-powered-by', async () => {
    const response = await call(url('/api/nope'), 'GET');
    assert.equal(response.status, 404);
    assert.equal(response.body.error.code, 'not_found');
    assert.equal(response.headers.get('x-powered-by'), null);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
  });

  it('answers messages and aborts for unknown sessions with 404 session_not_found', async () => {
    const message = await call(url('/api/sessions/ghost/messages'), 'POST', { text: 'hi' });
    assert.equal(message.status, 404);
    assert.equal(message.body.error.code, 'session_not_found');
    const abort = await call(url('/api/sessions/ghost/abort'), 'POST');
    assert.equal(abort.status, 404);
  });

  it('validates message bodies', async () => {
    await call(url('/api/sessions/delta'), 'PUT', { workspace: 'delta' });
    for (const body of [
      {},
      { text: '' },
      { text: '   ' },
      { text: 5 },
      { text: 'hi', model: 'no-slash' },
      { text: 'hi', agent: '--evil' },
      { text: 'hi', extra: true },
    ]) {
      const response = await call(url('/api/sessions/delta/messages'), 'POST', body);
      assert.equal(response.status, 400, `body ${JSON.stringify(body)} was accepted`);
      assert.equal(response.body.error.code, 'invalid_request');
    }
    const idle = await call(url('/api/sessions/delta/abort'), 'POST');
    assert.equal(idle.status, 409);
    assert.equal(idle.body.error.code, 'session_idle');
  });
});
