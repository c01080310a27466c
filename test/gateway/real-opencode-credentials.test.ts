// Credentials with the real opencode, isolated, in both modes: the stub model is configured with a
// real key that only the service holds. A session's agent reads its own environment and config with
// opencode's read tool and its shell, and calls the gateway directly; the key never comes back, the
// stub always receives it, and the session's usage is exactly the sum of the stub's answers.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { stubOpencodeConfig } from '../fixtures/stub-llm/opencode-config.mjs';
import { parseToolOutputs, startStubLlm, toolMessage, type StubLlm } from '../fixtures/stub-llm/server.mjs';
import { makeTempDir } from '../helpers/fixtures.js';
import { call } from '../helpers/http.js';
import { explain, realOpencodeHome } from '../helpers/real-opencode.js';
import { startTestService, type TestService } from '../helpers/test-service.js';

const REAL_KEY = `sk-REAL-${randomBytes(12).toString('hex')}`;
const HAS_CURL = existsSync('/usr/bin/curl');

type Usage = { tokens: { input: number; output: number; reasoning: number; cacheRead: number; cacheWrite: number }; cost: number; turns: number };

/** The stub's own answers since call `from`: what the session's usage must have grown by. */
function stubUsage(stub: StubLlm, from: number): { input: number; output: number; calls: number } {
  const calls = stub.calls.slice(from);
  return {
    input: calls.reduce((sum, c) => sum + (c.usage?.prompt_tokens ?? 0), 0),
    output: calls.reduce((sum, c) => sum + (c.usage?.completion_tokens ?? 0), 0),
    calls: calls.length,
  };
}

/** A config whose stub model has a price, so cost is counted too. */
function pricedConfig(stub: StubLlm): string {
  const config = stubOpencodeConfig(stub.baseURL, { permission: { '*': 'allow' } }) as {
    provider: { stub: { options: { apiKey: string }; models: Record<string, unknown> } };
  };
  config.provider.stub.options.apiKey = REAL_KEY;
  config.provider.stub.models['stub-model'] = { name: 'Stub', cost: { input: 3, output: 15 } };
  return JSON.stringify(config);
}

for (const mode of ['per-message', 'server'] as const) {
  describe(`credentials with the real opencode, ${mode} mode`, () => {
    let stub: StubLlm;
    let svc: TestService;
    let temp: { dir: string; remove: () => Promise<void> };
    const url = (p: string): string => `${svc.url}${p}`;
    const send = async (session: string, text: string): Promise<{ status: number; body: Record<string, unknown> }> =>
      (await call(url(`/api/sessions/${session}/messages`), 'POST', { text })) as { status: number; body: Record<string, unknown> };
    const usageOf = async (session: string): Promise<Usage> => (await call(url(`/api/sessions/${session}`), 'GET')).body.usage as Usage;

    before(async () => {
      stub = await startStubLlm();
      temp = await makeTempDir(`credentials-${mode}`);
      const home = await realOpencodeHome(stub, `${temp.dir}/home`);
      svc = await startTestService({
        ...home,
        OPENCODE_CONFIG_CONTENT: pricedConfig(stub),
        OCPM_ISOLATION: 'required',
        OCPM_OPENCODE_BIN: '',
        OCPM_MODE: mode,
        OCPM_KILL_GRACE_MS: '2000',
        OCPM_DRAIN_TIMEOUT_MS: '1000',
      });
      for (const id of ['a', 'b']) assert.equal((await call(url(`/api/sessions/${id}`), 'PUT', { workspace: id })).status, 201);
    });

    after(async () => {
      await svc?.close();
      await stub?.close();
      await temp?.remove();
    });

    it('a three-step tool turn is counted as its three calls, and the stub received the real key every time', async () => {
      const from = stub.calls.length;
      const before = await usageOf('a');
      const answer = await send('a', `${toolMessage('bash', 'echo one')} ${toolMessage('bash', 'echo two')}`);
      assert.equal(answer.status, 200, explain(svc, answer));
      assert.deepEqual(
        parseToolOutputs(String(answer.body.text)).map((out) => out.trim()),
        ['one', 'two'],
      );
      const expected = stubUsage(stub, from);
      assert.equal(expected.calls, 3, 'two tool calls and the answer');
      for (const received of stub.calls.slice(from)) assert.equal(received.headers.authorization, `Bearer ${REAL_KEY}`);
      const after = await usageOf('a');
      assert.equal(after.tokens.input - before.tokens.input, expected.input);
      assert.equal(after.tokens.output - before.tokens.output, expected.output);
      assert.equal(after.turns - before.turns, 1);
      const cost = (expected.input * 3 + expected.output * 15) / 1e6;
      assert.ok(Math.abs(after.cost - before.cost - cost) < 1e-9, `cost ${after.cost - before.cost} != ${cost}`);
      const history = (await call(url('/api/sessions/a/messages?limit=1'), 'GET')).body as { messages: Array<{ tokens: { input: number; output: number } }> };
      assert.equal(history.messages[0]?.tokens.input, expected.input);
      assert.equal(history.messages[0]?.tokens.output, expected.output);
    });

    it("opencode's read tool and the agent's shell never show the real key, opencode's environment, config or a planted link included", async () => {
      const reads = [
        toolMessage('read', '/proc/self/environ'),
        toolMessage(
          'bash',
          'ln -sf /proc/self/environ link-env; cat /proc/self/environ | tr "\\0" "\\n"; ls -a ~ ~/.config/opencode 2>&1; cat ~/.config/opencode/* 2>&1; echo done',
        ),
      ];
      const first = await send('a', reads.join(' '));
      assert.equal(first.status, 200, explain(svc, first));
      const link = await send('a', toolMessage('read', `${svc.workspaceRoot}/a/link-env`));
      assert.equal(link.status, 200, explain(svc, link));
      const seen = `${String(first.body.text)}\n${String(link.body.text)}`;
      assert.ok(!seen.includes(REAL_KEY), 'the real key came back');
      assert.ok(!seen.includes(`127.0.0.1:${stub.port}`), "the real upstream's address came back");
      // The read worked: opencode's own environment holds the gateway's configuration and key, nothing else.
      assert.match(seen, /ocpm-vk-/);
    });

    it(
      "a direct call from the session's shell with its own key is that session's; another session's key or none is refused",
      { skip: !HAS_CURL && 'no curl' },
      async () => {
        const environ = await send('a', toolMessage('read', '/proc/self/environ'));
        const keyA = /ocpm-vk-[A-Za-z0-9_-]+/.exec(String(environ.body.text))?.[0];
        const gateway = /"baseURL":"(http:\/\/127\.0\.0\.1:\d+\/stub)"/.exec(String(environ.body.text).replaceAll('\\"', '"'))?.[1];
        assert.ok(keyA !== undefined && gateway !== undefined, `no key or gateway URL in ${String(environ.body.text).slice(0, 400)}`);
        const environB = await send('b', toolMessage('read', '/proc/self/environ'));
        const keyB = /ocpm-vk-[A-Za-z0-9_-]+/.exec(String(environB.body.text))?.[0];
        assert.ok(keyB !== undefined && keyB !== keyA);
        const body = JSON.stringify({ model: 'stub-model', max_tokens: 50, messages: [{ role: 'user', content: 'direct MARK:direct' }] });
        const curl = (key: string | undefined): string =>
          `curl -s -o /dev/null -w 'status=%{http_code}\\n' ${key === undefined ? '' : `-H 'Authorization: Bearer ${key}'`} -H 'content-type: application/json' -d '${body}' ${gateway}/chat/completions`;
        const beforeA = await usageOf('a');
        const beforeB = await usageOf('b');
        const from = stub.calls.length;
        const answer = await send('a', [curl(keyA), curl(keyB), curl(undefined)].map((command) => toolMessage('bash', command)).join(' '));
        assert.equal(answer.status, 200, explain(svc, answer));
        assert.deepEqual(
          parseToolOutputs(String(answer.body.text)).map((out) => out.trim()),
          ['status=200', 'status=401', 'status=401'],
        );
        // The direct call is the one with max_tokens 50 (opencode's calls carry the commands' text too).
        const direct = stub.calls.slice(from).filter((c) => (c.body as { max_tokens?: number }).max_tokens === 50);
        assert.equal(direct.length, 1, 'only the call with its own key reached the model');
        const afterA = await usageOf('a');
        const turnCalls = stubUsage(stub, from);
        // Session a's usage grew by every call of the turn, the direct one included; b's did not move.
        assert.equal(afterA.tokens.input - beforeA.tokens.input, turnCalls.input);
        assert.deepEqual((await usageOf('b')).tokens, beforeB.tokens);
      },
    );
  });
}
