// The warm-up prompt with the real opencode: at a session's PUT its server runs one prompt in a
// throwaway conversation of the workspace, whose model call the gateway answers itself. Nothing
// reaches the model, nothing is counted to the session, and its own conversation stays empty.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startStubLlm, type StubLlm } from '../fixtures/stub-llm/server.mjs';
import { makeTempDir } from '../helpers/fixtures.js';
import { call } from '../helpers/http.js';
import { sample } from '../helpers/metrics-text.js';
import { explain, realOpencodeServiceEnv } from '../helpers/real-opencode.js';
import { startTestService, type TestService } from '../helpers/test-service.js';
import { waitFor } from '../helpers/wait-for.js';

describe('real opencode, server mode: the warm-up prompt', () => {
  let stub: StubLlm;
  let svc: TestService;
  let temp: { dir: string; remove: () => Promise<void> };
  before(async () => {
    stub = await startStubLlm();
    temp = await makeTempDir('e2e-warm-up');
    svc = await startTestService({ ...(await realOpencodeServiceEnv(stub, `${temp.dir}/home`)), OCPM_DRAIN_TIMEOUT_MS: '1000', OCPM_MODE: 'server' });
  });
  after(async () => {
    await svc.close();
    await stub.close();
    await temp.remove();
  });
  const url = (p: string): string => `${svc.url}${p}`;
  const warmUpCalls = async (): Promise<number> =>
    sample((await call(url('/metrics'), 'GET')).body as string, 'opencode_manager_model_calls_total', { provider: 'stub', model: 'other', outcome: 'warm_up' });

  it("loads the workspace with a prompt whose model call never leaves the service, and leaves the session's conversation empty", async () => {
    assert.equal((await call(url('/api/sessions/warm'), 'PUT', { workspace: 'warm' })).status, 201);
    await waitFor('the warm-up call', async () => (await warmUpCalls()) >= 1 || undefined, 120_000);
    assert.equal(stub.requests.length, 0, 'no call reached the model');
    const session = (await call(url('/api/sessions/warm'), 'GET')).body;
    assert.equal(session.usage.turns, 0);
    assert.deepEqual([session.usage.tokens.input, session.usage.tokens.output], [0, 0], 'nothing was counted to the session');
    const first = await call(url('/api/sessions/warm/messages'), 'POST', { text: 'hello MARK:one' });
    assert.equal(first.status, 200, explain(svc, first));
    assert.equal(first.body.text, 'stub answer user_messages=1 marker=one', 'the warm-up left nothing in the conversation');
    assert.equal(await warmUpCalls(), 1, 'one warm-up call per workspace');
    assert.equal(
      svc.logs.filter((line) => line.message === 'Session warm-up failed').length,
      0,
      JSON.stringify(svc.logs.filter((line) => line.message === 'Session warm-up failed')),
    );
  });
});
