// Logs at info level carry no token, no server password and no message text: checked on everything a
// real service logged through a session's life in server mode (the fake opencode serve), plus the
// logger's own last-line-of-defence masking.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/logging/logger.js';
import { call, streamEvents, TEST_API_TOKEN } from '../helpers/http.js';
import { startTestService, type TestService } from '../helpers/test-service.js';
import { waitFor } from '../helpers/wait-for.js';

const MARKER = 'confidential-user-text-7d3f';
const WRONG_TOKEN = 'attacker-guess-token-99';

describe('log redaction', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService({ OCPM_MODE: 'server', OCPM_LOG_LEVEL: 'info', OCPM_METRICS_TOKEN: 'metrics-secret-token-42' });
    await waitFor('server mode ready', async () => (await call(`${svc.url}/readyz`, 'GET')).status === 200);
  });
  after(async () => {
    await svc.close();
  });

  it('never logs tokens, the instance password or message text at info level', async () => {
    const url = (p: string): string => `${svc.url}${p}`;
    assert.equal((await call(url('/api/sessions/private'), 'PUT', { workspace: 'private' })).status, 201);
    assert.equal((await call(url('/api/sessions/private/messages'), 'POST', { text: `please handle ${MARKER}` })).status, 200);
    for await (const event of streamEvents(url('/api/sessions/private/messages'), { text: `stream ${MARKER}` })) void event;
    assert.equal((await call(url('/api/sessions/private/messages'), 'POST', { text: `#fake error-event\nfail ${MARKER}` })).status, 502);
    assert.equal((await call(url('/api/sessions'), 'GET', undefined, { authorization: `Bearer ${WRONG_TOKEN}` })).status, 401);
    assert.equal((await call(url('/metrics'), 'GET', undefined, { authorization: 'Bearer metrics-secret-token-42' })).status, 200);

    const servers = (await readFile(path.join(svc.recordDir, 'servers.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { hostname: string; envNames: string[]; opencodeEnv: Record<string, string> });
    const password = servers[0]?.opencodeEnv.OPENCODE_SERVER_PASSWORD;
    assert.ok(password !== undefined && password.length >= 16, 'the instance has no password');
    // The instance is reachable from this host only, and never sees the service's own settings or tokens.
    assert.equal(servers[0]?.hostname, '127.0.0.1');
    assert.deepEqual(
      servers[0]?.envNames.filter((name) => name.startsWith('OCPM_')),
      ['OCPM_PROCESS_MARK'],
      'only our process marker (not a secret) may start with OCPM_',
    );

    const logged = svc.logs.map((line) => JSON.stringify(line)).join('\n');
    const turns = svc.logs.filter((line) => line.message === 'Turn finished' || line.message === 'Turn failed');
    assert.deepEqual(
      turns.map((line) => [line.mode, line.outcome, line.level]),
      [
        ['server', 'success', 'info'],
        ['server', 'success', 'info'],
        ['server', 'error', 'warn'],
      ],
      'each turn is logged once: at info, or at warn with the reason when it failed',
    );
    assert.equal(typeof turns[2]?.reason, 'string', "a failed turn's log line gives opencode's reason");
    for (const [what, secret] of [
      ['API token', TEST_API_TOKEN],
      ['wrong token', WRONG_TOKEN],
      ['metrics token', 'metrics-secret-token-42'],
      ['instance password', password],
      ['message text', MARKER],
    ] as const) {
      assert.ok(!logged.includes(secret), `the ${what} reached the log`);
    }
  });

  it('masks secret-named fields and bearer credentials even when code passes them', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger({ level: 'info', format: 'json', stream: sink });
    logger.info('request failed: Authorization: Bearer leaked-token-1', {
      authorization: 'Bearer leaked-token-2',
      apiKey: 'leaked-key',
      nested: { password: 'leaked-pass', note: 'Basic bGVha2Vk' },
      count: 3,
    });
    const text = lines.join('');
    assert.doesNotMatch(text, /leaked-token|leaked-key|leaked-pass|bGVha2Vk/);
    assert.match(text, /"count":3/);
    assert.match(text, /\[redacted\]/);
  });
});
