// A few thousand random requests at the session and message routes (seeded, so a failure replays):
// random JSON values, random bytes, random content types, random ids. Whatever arrives: no 5xx, the
// service stays up, and opencode runs exactly once per accepted message, never for a refused one.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call } from '../helpers/http.js';
import { mulberry32 } from '../helpers/random.js';
import { startTestService, type TestService } from '../helpers/test-service.js';

const REQUESTS = Number(process.env.OCPM_FUZZ_REQUESTS ?? 3000);
const SEED = Number(process.env.OCPM_FUZZ_SEED ?? 20261128);

const KEYS = ['text', 'workspace', 'model', 'agent', '__proto__', 'constructor', 'limit', '', 'tExt', 'text\u0000'];
const STRINGS = [
  '',
  ' ',
  'hi',
  '--help',
  '-x',
  '../..',
  '/etc',
  'a/b',
  'provider/model',
  'build',
  '\u0000',
  '\u202e',
  '\ud800',
  'é',
  '%00',
  '${HOME}',
  '$(id)',
  '`id`',
  'x'.repeat(300),
];
const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/json; charset=latin1',
  'application/vnd.api+json',
  '',
];
const IDS = ['fz', 'fz', 'fz', 'other', 'nope', 'a%2Fb', '%E0%A4', '..%2F', 'x'.repeat(129), '%C3%A9', 'a%0d%0ab'];

function randomValue(random: () => number, depth: number): unknown {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  switch (Math.floor(random() * (depth > 3 ? 5 : 7))) {
    case 0:
      return null;
    case 1:
      return random() < 0.5;
    case 2:
      return pick([0, -1, 1.5, 1e308, Number.MAX_SAFE_INTEGER]);
    case 3:
    case 4:
      return pick(STRINGS);
    case 5:
      return Array.from({ length: Math.floor(random() * 4) }, () => randomValue(random, depth + 1));
    default: {
      const out: Record<string, unknown> = {};
      for (let i = Math.floor(random() * 4); i > 0; i -= 1) out[pick(KEYS)] = randomValue(random, depth + 1);
      return out;
    }
  }
}

function randomBody(random: () => number): string {
  const roll = random();
  if (roll < 0.15) return Buffer.from(Array.from({ length: Math.floor(random() * 64) }, () => Math.floor(random() * 256))).toString('latin1');
  const text = JSON.stringify(randomValue(random, 0)) ?? '';
  // Sometimes cut the JSON short or splice junk into it.
  if (roll < 0.3) return text.slice(0, Math.floor(random() * text.length));
  return text;
}

describe('fuzzing the session and message routes', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService({ OCPM_RATE_LIMIT_PER_MIN: '0', OCPM_LOG_LEVEL: 'warn', OCPM_ALLOW_SHARED_WORKSPACES: 'true' });
    assert.equal((await call(`${svc.url}/api/sessions/fz`, 'PUT', { workspace: 'fz' })).status, 201);
  });
  after(async () => {
    await svc.close();
  });

  it(`answers ${REQUESTS} random requests with no 5xx and spawns only for accepted messages (seed ${SEED})`, async () => {
    const random = mulberry32(SEED);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
    const statuses = new Map<number, number>();
    let acceptedMessages = 0;
    for (let i = 0; i < REQUESTS; i += 1) {
      const id = pick(IDS);
      const [method, route] = random() < 0.6 ? ['POST', `/api/sessions/${id}/messages`] : ['PUT', `/api/sessions/${id}`];
      const contentType = pick(CONTENT_TYPES);
      const response = await call(`${svc.url}${route}`, method, randomBody(random), contentType === '' ? {} : { 'content-type': contentType });
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      assert.ok(response.status < 500, `request ${i} (${method} ${route}) got ${response.status}: ${JSON.stringify(response.body).slice(0, 300)}`);
      if (response.status >= 400) {
        const code = (response.body as { error?: { code?: unknown } }).error?.code;
        assert.equal(typeof code, 'string', `request ${i}: a 4xx without an error code`);
      }
      if (method === 'POST' && response.status === 200) acceptedMessages += 1;
    }
    const runs = await readFile(path.join(svc.recordDir, 'runs.jsonl'), 'utf8').catch(() => '');
    const spawned = runs.split('\n').filter((line) => line.trim() !== '').length;
    assert.equal(spawned, acceptedMessages, `opencode ran ${spawned} times for ${acceptedMessages} accepted messages`);
    assert.ok((statuses.get(400) ?? 0) > REQUESTS / 4, `too few 400s, the fuzzer is not reaching validation: ${JSON.stringify([...statuses])}`);
    assert.equal((await call(`${svc.url}/livez`, 'GET')).status, 200);
  });
});
