// The model gateway's proxy over real HTTP, in front of a fake provider written here (no opencode):
// the real key goes upstream and the virtual key never does, unknown keys never reach it, answers
// stream through unbuffered, the provider's usage is counted for the right session and in the
// metrics, and budgets, the calls-per-minute limit, upstream errors and OCPM_MODEL_GATEWAY_UPSTREAM
// behave as documented.
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { GatewayProxy, type ForwardTo } from '../../src/gateway/gateway-proxy.js';
import { ModelLedger, type ModelPrice } from '../../src/gateway/model-ledger.js';
import type { UpstreamProvider } from '../../src/gateway/upstream-providers.js';
import { VirtualKeys } from '../../src/gateway/virtual-keys.js';
import { WarmUpCalls } from '../../src/gateway/warm-up-calls.js';
import { createSilentLogger } from '../../src/logging/logger.js';
import { addCall, emptyUsage, totalTokens, type Budgets, type SessionUsage, type UsageTokens } from '../../src/usage/usage.js';
import { gatewayRecorder } from '../../src/metrics/gateway-metrics.js';
import { createMetrics, type Metrics } from '../../src/metrics/metrics.js';
import { sample } from '../helpers/metrics-text.js';

const OPENAI_KEY = 'sk-real-openai-key';
const ANTHROPIC_KEY = 'sk-ant-real-anthropic-key';
const PRICE: ModelPrice = { input: 2, output: 8, cacheRead: 0.5, cacheWrite: 2.5 };

/** OpenAI usage as the fake provider reports it, and the five disjoint counts it stands for. */
const OPENAI_USAGE = {
  prompt_tokens: 30,
  completion_tokens: 20,
  total_tokens: 50,
  prompt_tokens_details: { cached_tokens: 10 },
  completion_tokens_details: { reasoning_tokens: 5 },
};
const OPENAI_TOKENS: UsageTokens = { input: 20, output: 15, reasoning: 5, cacheRead: 10, cacheWrite: 0 };
const ANTHROPIC_TOKENS: UsageTokens = { input: 25, output: 95, reasoning: 0, cacheRead: 3000, cacheWrite: 1200 };

// ---------------------------------------------------------------------------------------------
// Small helpers

interface Deferred<T = void> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}

function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

async function listen(server: http.Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
}

async function close(server: http.Server): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface ClientAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** One request on its own connection; `onData` sees each chunk of the answer as it arrives. */
function request(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: unknown; onData?: (chunk: Buffer, req: http.ClientRequest) => void } = {},
): Promise<ClientAnswer> {
  return new Promise((resolve, reject) => {
    const payload = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    const headers: Record<string, string> = { ...(payload === undefined ? {} : { 'content-type': 'application/json' }), ...options.headers };
    const req = http.request(url, { method: options.method ?? (payload === undefined ? 'GET' : 'POST'), headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        options.onData?.(chunk, req);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

// ---------------------------------------------------------------------------------------------
// The fake provider

interface Recorded {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly json: any;
}

/**
 * Answers like OpenAI (`…/chat/completions`: a JSON answer, or an SSE stream whose usage chunk comes
 * only with stream_options.include_usage) and Anthropic (`…/messages`: an SSE stream); records
 * every request. `status` makes it answer with that error instead.
 */
class FakeProvider extends EventEmitter {
  readonly requests: Recorded[] = [];
  readonly server = http.createServer((req, res) => void this.answer(req, res));
  url = '';
  status: number | undefined;
  usage: Record<string, unknown> = OPENAI_USAGE;
  /** Awaited before any answer (held calls stay in flight). */
  hold: Promise<void> = Promise.resolve();
  /** Awaited between the first and the second chunk of a chat stream. */
  gap: () => Promise<void> = () => Promise.resolve();
  /** Set when the second chunk of a chat stream is written. */
  secondChunkWritten = false;

  async start(): Promise<this> {
    this.url = await listen(this.server);
    cleanups.push(() => close(this.server));
    return this;
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    let json: any;
    try {
      json = body === '' ? undefined : JSON.parse(body);
    } catch {
      json = undefined;
    }
    const recorded: Recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, json };
    this.requests.push(recorded);
    this.emit('request', recorded, res);
    await this.hold;
    if (this.status !== undefined) {
      res.writeHead(this.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'the fake provider failed', type: 'server_error' } }));
      return;
    }
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (path.endsWith('/messages')) return this.anthropicStream(res);
    if (json?.stream === true) return this.chatStream(res, json?.stream_options?.include_usage === true);
    const answer = JSON.stringify({
      id: 'chatcmpl-1',
      object: 'chat.completion',
      model: json?.model,
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello' }, finish_reason: 'stop' }],
      usage: this.usage,
    });
    res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'req-1' });
    res.end(answer);
  }

  private async chatStream(res: ServerResponse, includeUsage: boolean): Promise<void> {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const chunk = (delta: Record<string, unknown>, finish: string | null): string =>
      `data: ${JSON.stringify({ id: 'chatcmpl-2', object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    res.write(chunk({ role: 'assistant', content: 'Hel' }, null));
    await this.gap();
    if (res.destroyed) return;
    this.secondChunkWritten = true;
    this.emit('second-chunk');
    res.write(chunk({ content: 'lo' }, 'stop'));
    if (includeUsage) res.write(`data: ${JSON.stringify({ id: 'chatcmpl-2', object: 'chat.completion.chunk', choices: [], usage: this.usage })}\n\n`);
    res.end('data: [DONE]\n\n');
  }

  private anthropicStream(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
    const event = (type: string, data: Record<string, unknown>): string => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
    res.write(
      event('message_start', {
        message: {
          id: 'msg_1',
          type: 'message',
          role: 'assistant',
          content: [],
          model: 'claude-x',
          usage: { input_tokens: 25, cache_creation_input_tokens: 1200, cache_read_input_tokens: 3000, output_tokens: 1 },
        },
      }),
    );
    res.write(event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }));
    res.write(event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hello' } }));
    res.write(event('content_block_stop', { index: 0 }));
    res.write(event('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 95 } }));
    res.end(event('message_stop', {}));
  }
}

// ---------------------------------------------------------------------------------------------
// The gateway under test

interface Gateway {
  /** The main listener (shared pool servers' keys). */
  url: string;
  /** A session's own listener (only that session's key is valid there) and its key. */
  session: (sessionId: string) => Promise<{ url: string; key: string }>;
  provider: FakeProvider;
  keys: VirtualKeys;
  ledger: ModelLedger;
  usage: Map<string, SessionUsage>;
  metrics: Metrics;
  /** Emits `usage` (sessionId, tokens, cost) when a call is added to a session's usage. */
  events: EventEmitter;
  warmUpCalls: WarmUpCalls;
  metricsText: () => Promise<string>;
}

async function startGateway(
  options: { budgets?: Partial<Budgets>; rpm?: number; forward?: ForwardTo; conversations?: Record<string, string>; upstreamTimeoutMs?: number } = {},
): Promise<Gateway> {
  const provider = await new FakeProvider().start();
  const upstreams = new Map<string, UpstreamProvider>([
    ['openai', { id: 'openai', baseURL: `${provider.url}/v1`, apiKey: OPENAI_KEY, headers: { 'openai-organization': 'org-1' }, keySource: 'OPENAI_API_KEY' }],
    ['anthropic', { id: 'anthropic', baseURL: `${provider.url}/anthropic/v1`, apiKey: ANTHROPIC_KEY, headers: {}, keySource: 'ANTHROPIC_API_KEY' }],
  ]);
  const usage = new Map<string, SessionUsage>([
    ['s1', emptyUsage()],
    ['s2', emptyUsage()],
  ]);
  const events = new EventEmitter();
  const budgets: Budgets = { sessionTokenBudget: undefined, sessionCostBudgetUsd: undefined, ...options.budgets };
  const ledger = new ModelLedger({
    usageOf: (id) => usage.get(id),
    addUsage: (id, tokens, cost) => {
      const before = usage.get(id);
      if (before !== undefined) usage.set(id, addCall(before, tokens, cost));
      events.emit('usage', id, tokens, cost);
    },
    budgets: () => budgets,
    rpm: options.rpm ?? 0,
  });
  const metrics = createMetrics({ collectDefault: false });
  const keys = new VirtualKeys();
  const conversations = new Map(Object.entries(options.conversations ?? {}));
  const warmUpCalls = new WarmUpCalls();
  const proxy = new GatewayProxy({
    keys,
    ledger,
    warmUpCalls,
    upstreams,
    sessionOfConversation: (id) => conversations.get(id),
    sessionExists: (id) => usage.has(id),
    termsOf: (_provider, model) => ({ price: model === 'gpt-x' ? PRICE : undefined, outputLimit: undefined }),
    modelLabel: (id, model) => (model === 'gpt-x' || model === 'claude-x' ? `${id}/${model}` : 'other'),
    recorder: gatewayRecorder(metrics),
    logger: createSilentLogger(),
    forward: options.forward,
    upstreamTimeoutMs: options.upstreamTimeoutMs ?? 10_000,
  });
  const server = http.createServer((req, res) => proxy.handle(req, res, undefined));
  const url = await listen(server);
  cleanups.push(() => close(server));
  const sessionListeners = new Map<string, Promise<string>>();
  const session = async (sessionId: string): Promise<{ url: string; key: string }> => {
    let listener = sessionListeners.get(sessionId);
    if (listener === undefined) {
      const bound = http.createServer((req, res) => proxy.handle(req, res, sessionId));
      cleanups.push(() => close(bound));
      listener = listen(bound);
      sessionListeners.set(sessionId, listener);
    }
    return { url: await listener, key: keys.forSession(sessionId) };
  };
  return { url, session, provider, keys, ledger, usage, metrics, events, warmUpCalls, metricsText: () => metrics.registry.metrics() };
}

function chatBody(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: 'gpt-x', max_tokens: 100, messages: [{ role: 'user', content: 'Say hello' }], ...extra };
}

function bearer(key: string): Record<string, string> {
  return { authorization: `Bearer ${key}` };
}

/** Every header value the provider received, as one string. */
function headerText(recorded: Recorded): string {
  return JSON.stringify(recorded.headers);
}

// ---------------------------------------------------------------------------------------------

describe('model gateway proxy: keys', () => {
  it('sends the real key upstream (Bearer for OpenAI paths), never the virtual key, at baseURL + path + query', async () => {
    const gateway = await startGateway();
    const s1 = await gateway.session('s1');
    const answer = await request(`${s1.url}/openai/chat/completions?api-version=2024-10-01&x=1`, {
      headers: { ...bearer(s1.key), 'user-agent': 'ai-sdk/test' },
      body: chatBody(),
    });
    assert.equal(answer.status, 200);
    assert.equal(JSON.parse(answer.text).choices[0].message.content, 'Hello');
    assert.equal(answer.headers['x-request-id'], 'req-1');
    assert.equal(gateway.provider.requests.length, 1);
    const upstream = gateway.provider.requests[0]!;
    assert.equal(upstream.method, 'POST');
    assert.equal(upstream.url, '/v1/chat/completions?api-version=2024-10-01&x=1');
    assert.equal(upstream.headers.authorization, `Bearer ${OPENAI_KEY}`);
    assert.equal(upstream.headers['x-api-key'], undefined);
    assert.equal(upstream.headers['openai-organization'], 'org-1');
    assert.equal(upstream.headers['user-agent'], 'ai-sdk/test');
    assert.equal(upstream.headers.host, new URL(gateway.provider.url).host);
    assert.ok(!headerText(upstream).includes(s1.key), 'the virtual key went upstream');
    assert.ok(!upstream.body.includes(s1.key));
    assert.deepEqual(upstream.json, chatBody());
  });

  it('sends x-api-key upstream for the Messages API when the caller used x-api-key', async () => {
    const gateway = await startGateway();
    const s1 = await gateway.session('s1');
    const answer = await request(`${s1.url}/anthropic/messages`, {
      headers: { 'x-api-key': s1.key, 'anthropic-version': '2023-06-01' },
      body: { model: 'claude-x', max_tokens: 200, stream: true, messages: [{ role: 'user', content: 'hi' }] },
    });
    assert.equal(answer.status, 200);
    assert.match(answer.text, /event: message_stop/);
    const upstream = gateway.provider.requests[0]!;
    assert.equal(upstream.url, '/anthropic/v1/messages');
    assert.equal(upstream.headers['x-api-key'], ANTHROPIC_KEY);
    assert.equal(upstream.headers.authorization, undefined);
    assert.equal(upstream.headers['anthropic-version'], '2023-06-01');
    assert.ok(!headerText(upstream).includes(s1.key));
    // An Anthropic body is passed on as it is (no stream_options added).
    assert.equal(upstream.json.stream_options, undefined);
    assert.deepEqual(gateway.usage.get('s1')?.tokens, ANTHROPIC_TOKENS);
  });

  for (const [name, headers] of [
    ['no key', {}],
    ['an unknown key', bearer('ocpm-vk-not-a-key-of-this-gateway')],
    ['an unknown x-api-key', { 'x-api-key': 'sk-something-else' }],
  ] as const) {
    it(`answers 401 to ${name} and calls no provider`, async () => {
      const gateway = await startGateway();
      const s1 = await gateway.session('s1');
      for (const url of [s1.url, gateway.url]) {
        const answer = await request(`${url}/openai/chat/completions`, { headers, body: chatBody() });
        assert.equal(answer.status, 401);
        assert.equal(JSON.parse(answer.text).error.type, 'authentication_error');
      }
      assert.equal(gateway.provider.requests.length, 0);
      assert.equal(sample(await gateway.metricsText(), 'opencode_manager_model_calls_total', { provider: 'openai', outcome: 'unauthorized' }), 2);
    });
  }

  it('answers 401 to a revoked key, in the wire format of the caller', async () => {
    const gateway = await startGateway();
    const s1 = await gateway.session('s1');
    assert.equal((await request(`${s1.url}/openai/chat/completions`, { headers: bearer(s1.key), body: chatBody() })).status, 200);
    gateway.keys.revokeSession('s1');
    const openai = await request(`${s1.url}/openai/chat/completions`, { headers: bearer(s1.key), body: chatBody() });
    assert.equal(openai.status, 401);
    const anthropic = await request(`${s1.url}/anthropic/messages`, {
      headers: { 'x-api-key': s1.key },
      body: { model: 'claude-x', max_tokens: 10, messages: [] },
    });
    assert.equal(anthropic.status, 401);
    assert.deepEqual(JSON.parse(anthropic.text), { type: 'error', error: { type: 'authentication_error', message: 'unknown or revoked key' } });
    assert.equal(gateway.provider.requests.length, 1);
  });

  it('answers 401 to the key of a session that no longer exists', async () => {
    const gateway = await startGateway();
    const s1 = await gateway.session('s1');
    gateway.usage.delete('s1');
    assert.equal((await request(`${s1.url}/openai/chat/completions`, { headers: bearer(s1.key), body: chatBody() })).status, 401);
    assert.equal(gateway.provider.requests.length, 0);
  });

  it('takes a session’s key only on that session’s own listener', async () => {
    const gateway = await startGateway();
    const s1 = await gateway.session('s1');
    const s2 = await gateway.session('s2');
    // Another session's key on s1's listener, and a session key on the main listener: refused.
    assert.equal((await request(`${s1.url}/openai/chat/completions`, { headers: bearer(s2.key), body: chatBody() })).status, 401);
    assert.equal((await request(`${gateway.url}/openai/chat/completions`, { headers: bearer(s1.key), body: chatBody() })).status, 401);
    // A shared server's key on a session's listener: refused, whatever conversation it names.
    const serverKey = gateway.keys.forSlot(0);
    assert.equal(
      (await request(`${s1.url}/openai/chat/completions`, { headers: { ...bearer(serverKey), 'x-session-id': 'ses_conv' }, body: chatBody() })).status,
      401,
    );
    assert.equal(gateway.provider.requests.length, 0);
    assert.deepEqual(gateway.usage.get('s1'), emptyUsage());
    assert.deepEqual(gateway.usage.get('s2'), emptyUsage());
  });

  it('accounts a shared server’s call to the session of its x-session-id, and refuses an unmapped one', async () => {
    const gateway = await startGateway({ conversations: { ses_conv2: 's2' } });
    const key = gateway.keys.forSlot(0);
    const mapped = await request(`${gateway.url}/openai/chat/completions`, { headers: { ...bearer(key), 'x-session-id': 'ses_conv2' }, body: chatBody() });
    assert.equal(mapped.status, 200);
    assert.deepEqual(gateway.usage.get('s2')?.tokens, OPENAI_TOKENS);
    assert.deepEqual(gateway.usage.get('s1'), emptyUsage());
    const unmapped = await request(`${gateway.url}/openai/chat/completions`, { headers: { ...bearer(key), 'x-session-id': 'ses_other' }, body: chatBody() });
    assert.equal(unmapped.status, 401);
    const missing = await request(`${gateway.url}/openai/chat/completions`, { headers: bearer(key), body: chatBody() });
    assert.equal(missing.status, 401);
    assert.equal(gateway.provider.requests.length, 1);
  });

  it("answers a warm-up conversation's call itself, 402 in the caller's wire format, and sends nothing upstream, until the warm-up ends", async () => {
    const gateway = await startGateway({ conversations: { ses_user: 's1' } });
    const key = gateway.keys.forSlot(0);
    const done = gateway.warmUpCalls.expect('ses_warm');
    const headers = { ...bearer(key), 'x-session-id': 'ses_warm' };
    const warm = await request(`${gateway.url}/openai/chat/completions`, { headers, body: chatBody() });
    assert.equal(warm.status, 402);
    assert.equal(JSON.parse(warm.text).error.code, 'warm_up');
    const anthropic = await request(`${gateway.url}/anthropic/messages`, { headers, body: { ...chatBody(), model: 'claude-x' } });
    assert.equal(anthropic.status, 402);
    assert.equal(JSON.parse(anthropic.text).type, 'error');
    assert.equal(gateway.provider.requests.length, 0, 'nothing went upstream');
    assert.equal(sample(await gateway.metricsText(), 'opencode_manager_model_calls_total', { provider: 'openai', model: 'other', outcome: 'warm_up' }), 1);
    assert.deepEqual(gateway.usage.get('s1'), emptyUsage(), 'nothing was counted to a session');
    // Without a key the gateway gave, or once the warm-up ended, it is an ordinary call.
    assert.equal((await request(`${gateway.url}/openai/chat/completions`, { headers: { 'x-session-id': 'ses_warm' }, body: chatBody() })).status, 401);
    done();
    assert.equal((await request(`${gateway.url}/openai/chat/completions`, { headers, body: chatBody() })).status, 401);
  });

  it('answers 404 for a provider it does not have, and 400 for a body that is not JSON', async () => {
    const gateway = await startGateway();
    const s1 = await gateway.session('s1');
    assert.equal((await request(`${s1.url}/nope/chat/completions`, { headers: bearer(s1.key), body: chatBody() })).status, 404);
    assert.equal((await request(`${s1.url}/openai/chat/completions`, { headers: bearer(s1.key), body: '{not json' })).status, 400);
    assert.equal(gateway.provider.requests.length, 0);
  });
});

describe('model gateway proxy: usage', () => {
  it('adds the reported usage to the calling session and to the metrics', async () => {
    const gateway = await startGateway();
    const s1 = await gateway.session('s1');
    const answer = await request(`${s1.url}/openai/chat/completions`, { headers: bearer(s1.key), body: chatBody() });
    assert.equal(answer.status, 200);
    const expectedCost = (20 * PRICE.input + (15 + 5) * PRICE.output + 10 * PRICE.cacheRead) / 1_000_000;
    const usage = gateway.usage.get('s1')!;
    assert.deepEqual(usage.tokens, OPENAI_TOKENS);
    assert.ok(Math.abs(usage.cost - expectedCost) < 1e-12);
    assert.deepEqual(gateway.usage.get('s2'), emptyUsage());
    assert.deepEqual(gateway.ledger.inFlight('s1'), { tokens: 0, cost: 0 });

    const text = await gateway.metricsText();
    assert.equal(sample(text, 'opencode_manager_model_calls_total', { provider: 'openai', model: 'openai/gpt-x', outcome: 'success' }), 1);
    const model = 'openai/gpt-x';
    assert.equal(sample(text, 'opencode_manager_tokens_total', { type: 'input', model }), 20);
    assert.equal(sample(text, 'opencode_manager_tokens_total', { type: 'output', model }), 15);
    assert.equal(sample(text, 'opencode_manager_tokens_total', { type: 'reasoning', model }), 5);
    assert.equal(sample(text, 'opencode_manager_tokens_total', { type: 'cache_read', model }), 10);
    assert.ok(Math.abs(sample(text, 'opencode_manager_cost_usd_total', { model }) - expectedCost) < 1e-12);
    assert.equal(sample(text, 'opencode_manager_model_call_seconds_count', { provider: 'openai', phase: 'total' }), 1);
    assert.equal(sample(text, 'opencode_manager_model_call_seconds_count', { provider: 'openai', phase: 'first_byte' }), 1);
  });

  it('counts an unlisted model under `other`', async () => {
    const gateway = await startGateway();
    const s1 = await gateway.session('s1');
    await request(`${s1.url}/openai/chat/completions`, { headers: bearer(s1.key), body: chatBody({ model: 'free-text-model' }) });
    const text = await gateway.metricsText();
    assert.equal(sample(text, 'opencode_manager_model_calls_total', { provider: 'openai', model: 'other', outcome: 'success' }), 1);
    assert.equal(sample(text, 'opencode_manager_tokens_total', { type: 'input', model: 'other' }), 20);
  });

  it('adds include_usage to a chat-completions stream that did not ask for it, keeping its other stream_options, and counts the usage', async () => {
    const gateway = await startGateway();
    const s1 = await gateway.session('s1');
    const answer = await request(`${s1.url}/openai/chat/completions`, {
      headers: bearer(s1.key),
      body: chatBody({ stream: true, stream_options: { include_obfuscation: false } }),
    });
    assert.equal(answer.status, 200);
    assert.match(answer.text, /"usage"/);
    assert.match(answer.text, /data: \[DONE\]/);
    const upstream = gateway.provider.requests[0]!;
    assert.deepEqual(upstream.json.stream_options, { include_obfuscation: false, include_usage: true });
    assert.equal(Number(upstream.headers['content-length']), Buffer.byteLength(upstream.body));
    assert.deepEqual(gateway.usage.get('s1')?.tokens, OPENAI_TOKENS);
  });

  it('adds include_usage when stream_options is absent', async () => {
    const gateway = await startGateway();
    const s1 = await gateway.session('s1');
    await request(`${s1.url}/openai/chat/completions`, { headers: bearer(s1.key), body: chatBody({ stream: true }) });
    assert.deepEqual(gateway.provider.requests[0]!.json.stream_options, { include_usage: true });
    assert.deepEqual(gateway.usage.get('s1')?.tokens, OPENAI_TOKENS);
  });

  it('streams without buffering: the caller has the first chunk before the provider writes the second', async () => {
    const gateway = await startGateway();
    const s1 = await gateway.session('s1');
    const firstChunkAtClient = deferred();
    // At least 300 ms between the chunks; the provider goes on once the caller has the first chunk, or
    // after 5 s (a buffering gateway), so the test never hangs and never depends on how fast it is.
    gateway.provider.gap = () => Promise.all([delay(300), Promise.race([firstChunkAtClient.promise, delay(5000)])]).then(() => undefined);
    let secondWrittenAtFirstArrival: boolean | undefined;
    const arrivals: string[] = [];
    const answer = await request(`${s1.url}/openai/chat/completions`, {
      headers: bearer(s1.key),
      body: chatBody({ stream: true }),
      onData: (chunk) => {
        arrivals.push(chunk.toString('utf8'));
        if (secondWrittenAtFirstArrival === undefined) {
          secondWrittenAtFirstArrival = gateway.provider.secondChunkWritten;
          firstChunkAtClient.resolve();
        }
      },
    });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['content-type'], 'text/event-stream');
    assert.equal(secondWrittenAtFirstArrival, false, 'the first chunk reached the caller only after the provider wrote the second');
    assert.match(arrivals[0] ?? '', /"Hel"/);
    assert.doesNotMatch(arrivals[0] ?? '', /"lo"/);
    assert.deepEqual(gateway.usage.get('s1')?.tokens, OPENAI_TOKENS);
  });

  it('ends the upstream call when the caller goes away mid-stream, and charges what was reserved', async () => {
    const gateway = await startGateway();
    const s1 = await gateway.session('s1');
    const upstreamClosed = deferred();
    gateway.provider.on('request', (_recorded: Recorded, res: ServerResponse) => res.on('close', () => upstreamClosed.resolve()));
    gateway.provider.gap = () => upstreamClosed.promise;
    const usageAdded = once(gateway.events, 'usage');
    await assert.rejects(
      request(`${s1.url}/openai/chat/completions`, {
        headers: bearer(s1.key),
        body: chatBody({ stream: true }),
        onData: (_chunk, req) => req.destroy(),
      }),
    );
    await upstreamClosed.promise;
    const [sessionId, tokens] = (await usageAdded) as [string, UsageTokens];
    assert.equal(sessionId, 's1');
    // The usage chunk never came: the whole reservation (max_tokens) is charged as output.
    assert.deepEqual(tokens, { input: 0, output: 100, reasoning: 0, cacheRead: 0, cacheWrite: 0 });
    assert.equal(gateway.provider.secondChunkWritten, false);
    assert.equal(sample(await gateway.metricsText(), 'opencode_manager_model_calls_total', { provider: 'openai', outcome: 'aborted' }), 1);
  });
});

describe('model gateway proxy: budgets and limits', () => {
  it('refuses with 402 budget_exceeded the call whose reservation crosses the token budget, before it goes upstream', async () => {
    // Each call reserves 100 (max_tokens) and uses 50: 0+100 and 50+100 fit in 180, 100+100 does not.
    const gateway = await startGateway({ budgets: { sessionTokenBudget: 180 } });
    const s1 = await gateway.session('s1');
    for (let i = 0; i < 2; i += 1)
      assert.equal((await request(`${s1.url}/openai/chat/completions`, { headers: bearer(s1.key), body: chatBody() })).status, 200);
    const third = await request(`${s1.url}/openai/chat/completions`, { headers: bearer(s1.key), body: chatBody() });
    assert.equal(third.status, 402);
    assert.match(third.text, /budget_exceeded/);
    assert.equal(JSON.parse(third.text).error.code, 'budget_exceeded');
    assert.equal(gateway.provider.requests.length, 2);
    assert.equal(totalTokens(gateway.usage.get('s1')!), 100);
    // Another session has its own budget.
    const s2 = await gateway.session('s2');
    assert.equal((await request(`${s2.url}/openai/chat/completions`, { headers: bearer(s2.key), body: chatBody() })).status, 200);
    const text = await gateway.metricsText();
    assert.equal(sample(text, 'opencode_manager_model_calls_total', { provider: 'openai', outcome: 'refused_budget' }), 1);
    assert.equal(sample(text, 'opencode_manager_model_reservations_refused_total', { reason: 'budget' }), 1);
  });

  it('answers a refused Anthropic call in the Messages error format', async () => {
    const gateway = await startGateway({ budgets: { sessionTokenBudget: 10 } });
    const s1 = await gateway.session('s1');
    const answer = await request(`${s1.url}/anthropic/messages`, {
      headers: { 'x-api-key': s1.key },
      body: { model: 'claude-x', max_tokens: 100, messages: [] },
    });
    assert.equal(answer.status, 402);
    const body = JSON.parse(answer.text);
    assert.equal(body.type, 'error');
    assert.equal(body.error.type, 'budget_exceeded');
    assert.equal(gateway.provider.requests.length, 0);
  });

  it('keeps 20 concurrent calls within the token budget plus one reservation, refusing the rest', async () => {
    const budget = 1000;
    const reservation = 100;
    const gateway = await startGateway({ budgets: { sessionTokenBudget: budget } });
    const s1 = await gateway.session('s1');
    // Each admitted call uses all it reserved, and none answers before every call was decided.
    gateway.provider.usage = { prompt_tokens: 40, completion_tokens: 60, total_tokens: 100 };
    const decided = deferred();
    let upstreamCalls = 0;
    let refused = 0;
    const check = (): void => {
      if (upstreamCalls + refused === 20) decided.resolve();
    };
    gateway.provider.hold = decided.promise;
    gateway.provider.on('request', () => {
      upstreamCalls += 1;
      check();
    });
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        request(`${s1.url}/openai/chat/completions`, { headers: bearer(s1.key), body: chatBody({ max_tokens: reservation }) }).then((answer) => {
          if (answer.status !== 200) {
            refused += 1;
            check();
          }
          return answer;
        }),
      ),
    );
    const statuses = answers.map((answer) => answer.status);
    assert.ok(
      statuses.every((status) => status === 200 || status === 402),
      statuses.join(','),
    );
    const ok = statuses.filter((status) => status === 200).length;
    assert.ok(refused > 0, 'no call was refused');
    assert.equal(ok, gateway.provider.requests.length);
    const used = totalTokens(gateway.usage.get('s1')!);
    assert.equal(used, ok * reservation);
    assert.ok(used <= budget + reservation, `${used} tokens used for a budget of ${budget}`);
    // Nothing stays reserved.
    assert.deepEqual(gateway.ledger.inFlight('s1'), { tokens: 0, cost: 0 });
  });

  it('answers 429 with retry-after to the third call within a minute at rpm 2, without calling the provider', async () => {
    const gateway = await startGateway({ rpm: 2 });
    const s1 = await gateway.session('s1');
    for (let i = 0; i < 2; i += 1)
      assert.equal((await request(`${s1.url}/openai/chat/completions`, { headers: bearer(s1.key), body: chatBody() })).status, 200);
    const third = await request(`${s1.url}/openai/chat/completions`, { headers: bearer(s1.key), body: chatBody() });
    assert.equal(third.status, 429);
    const retryAfter = Number(third.headers['retry-after']);
    assert.ok(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 60, `retry-after: ${String(third.headers['retry-after'])}`);
    assert.ok(Number(third.headers['retry-after-ms']) > 0);
    assert.equal(JSON.parse(third.text).error.type, 'rate_limit_error');
    assert.equal(gateway.provider.requests.length, 2);
    // Another session is not limited by s1's calls.
    const s2 = await gateway.session('s2');
    assert.equal((await request(`${s2.url}/openai/chat/completions`, { headers: bearer(s2.key), body: chatBody() })).status, 200);
    const text = await gateway.metricsText();
    assert.equal(sample(text, 'opencode_manager_model_calls_total', { provider: 'openai', outcome: 'refused_rate' }), 1);
    assert.equal(sample(text, 'opencode_manager_model_reservations_refused_total', { reason: 'rate' }), 1);
  });
});

describe('model gateway proxy: upstream errors and forwarding', () => {
  it('passes an upstream 500 through, counts it, and releases the reservation', async () => {
    const gateway = await startGateway({ budgets: { sessionTokenBudget: 100 } });
    const s1 = await gateway.session('s1');
    gateway.provider.status = 500;
    const answer = await request(`${s1.url}/openai/chat/completions`, { headers: bearer(s1.key), body: chatBody() });
    assert.equal(answer.status, 500);
    assert.equal(JSON.parse(answer.text).error.message, 'the fake provider failed');
    assert.deepEqual(gateway.usage.get('s1'), emptyUsage());
    assert.deepEqual(gateway.ledger.inFlight('s1'), { tokens: 0, cost: 0 });
    const text = await gateway.metricsText();
    assert.equal(sample(text, 'opencode_manager_model_upstream_errors_total', { provider: 'openai', status: '500' }), 1);
    assert.equal(sample(text, 'opencode_manager_model_calls_total', { provider: 'openai', outcome: 'upstream_error' }), 1);
    // The released reservation leaves the whole budget: a call of max_tokens 100 still fits.
    gateway.provider.status = undefined;
    assert.equal((await request(`${s1.url}/openai/chat/completions`, { headers: bearer(s1.key), body: chatBody() })).status, 200);
  });

  it('answers 502 when the provider cannot be reached, and releases the reservation', async () => {
    const gateway = await startGateway();
    const s1 = await gateway.session('s1');
    await close(gateway.provider.server);
    const answer = await request(`${s1.url}/openai/chat/completions`, { headers: bearer(s1.key), body: chatBody() });
    assert.equal(answer.status, 502);
    assert.deepEqual(gateway.ledger.inFlight('s1'), { tokens: 0, cost: 0 });
    assert.deepEqual(gateway.usage.get('s1'), emptyUsage());
    const text = await gateway.metricsText();
    assert.equal(sample(text, 'opencode_manager_model_upstream_errors_total', { provider: 'openai', status: 'connect' }), 1);
    assert.equal(sample(text, 'opencode_manager_model_calls_total', { provider: 'openai', outcome: 'failed' }), 1);
  });

  it('answers 502 when the provider accepts the call but sends nothing within the timeout, and releases the reservation', async () => {
    const gateway = await startGateway({ upstreamTimeoutMs: 200 });
    const s1 = await gateway.session('s1');
    const never = deferred();
    gateway.provider.hold = never.promise;
    cleanups.push(() => never.resolve());
    const answer = await request(`${s1.url}/openai/chat/completions`, { headers: bearer(s1.key), body: chatBody() });
    assert.equal(answer.status, 502);
    assert.equal(gateway.provider.requests.length, 1);
    assert.deepEqual(gateway.ledger.inFlight('s1'), { tokens: 0, cost: 0 });
    assert.deepEqual(gateway.usage.get('s1'), emptyUsage());
    assert.equal(sample(await gateway.metricsText(), 'opencode_manager_model_calls_total', { provider: 'openai', outcome: 'failed' }), 1);
  });

  it('with OCPM_MODEL_GATEWAY_UPSTREAM sends the call to the template URL + path, naming the session in its header', async () => {
    const next = await new FakeProvider().start();
    const gateway = await startGateway({ forward: { template: `${next.url}/{provider}/`, sessionHeader: 'x-ocpm-session' } });
    const s1 = await gateway.session('s1');
    const answer = await request(`${s1.url}/openai/chat/completions?trace=1`, { headers: bearer(s1.key), body: chatBody() });
    assert.equal(answer.status, 200);
    assert.equal(gateway.provider.requests.length, 0, 'the provider was called directly');
    assert.equal(next.requests.length, 1);
    const forwarded = next.requests[0]!;
    assert.equal(forwarded.url, '/openai/chat/completions?trace=1');
    assert.equal(forwarded.headers['x-ocpm-session'], 's1');
    assert.ok(!headerText(forwarded).includes(s1.key));
    assert.deepEqual(gateway.usage.get('s1')?.tokens, OPENAI_TOKENS);
  });
});
