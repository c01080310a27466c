// Turn results are not lost: with OCPM_ABORT_ON_DISCONNECT=false a turn whose client went away
// finishes, and its answer is listed by GET /api/sessions/:id/messages.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call, streamEvents } from '../helpers/http.js';
import { startTestService, type TestService } from '../helpers/test-service.js';
import { waitFor } from '../helpers/wait-for.js';

describe('turn history', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService({ OCPM_ABORT_ON_DISCONNECT: 'false' });
  });
  after(async () => {
    await svc.close();
  });
  const url = (p: string): string => `${svc.url}${p}`;

  it('keeps the answer of a turn whose client disconnected, and lists turns newest first', async () => {
    await call(url('/api/sessions/h'), 'PUT', { workspace: 'h' });
    assert.equal((await call(url('/api/sessions/h/messages'), 'POST', { text: '#fake exit=4\nfails' })).status, 502);
    const controller = new AbortController();
    const stream = streamEvents(url('/api/sessions/h/messages'), { text: '#fake delay=600\nkept' }, controller.signal);
    for (let next = await stream.next(); next.done !== true && next.value.data.type !== 'step_start'; next = await stream.next());
    controller.abort();
    await stream.return(undefined).catch(() => undefined);
    const turns = await waitFor('the disconnected turn to finish', async () => {
      const body = (await call(url('/api/sessions/h/messages?limit=5'), 'GET')).body;
      return body.messages[0]?.status === 'success' ? body.messages : undefined;
    });
    assert.equal(turns.length, 2);
    assert.equal(turns[0].text, 'fake reply #2 [model=default] [agent=build]: kept');
    assert.equal(turns[0].mode, 'per-message');
    assert.equal(typeof turns[0].durationMs, 'number');
    assert.equal(turns[0].error, null);
    assert.equal(turns[1].status, 'error');
    assert.equal(turns[1].error.code, 'opencode_failed');
    assert.equal(turns[1].text, null);
    assert.equal((await call(url('/api/sessions/h/messages?limit=1'), 'GET')).body.messages.length, 1);
  });

  it('validates the query and the session', async () => {
    for (const query of ['limit=0', 'limit=101', 'limit=abc', 'other=1']) {
      const response = await call(url(`/api/sessions/h/messages?${query}`), 'GET');
      assert.equal(response.status, 400, query);
      assert.equal(response.body.error.code, 'invalid_request');
    }
    assert.equal((await call(url('/api/sessions/nobody/messages'), 'GET')).status, 404);
  });
});
