// What the calls of a server-mode turn cost on the client side: the hand-written fetch client (as it
// was before @opencode-ai/sdk, copied below), the bare SDK client (`@opencode-ai/sdk/v2`), and the
// service's OpencodeClient as it is now. One node:http server on port 0 answers like `opencode serve`
// (at once, keep-alive), so what differs is the client's own work: building the request, the
// SDK's interceptors, reading and parsing the answer. The clients are called call by call,
// interleaved (who goes first rotates), so machine noise hits them alike. Events: one stream of a
// turn's bus events, parsed from memory by the hub's parser and by the SDK's SSE client.
// Usage: node --import tsx bench/sdk-client-overhead.ts [--calls 500] [--events 50]   (docs/performance.md)
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createOpencodeClient } from '@opencode-ai/sdk/v2';
import { Agent } from 'undici';
import { OpencodeClient } from '../src/manager/server/opencode-client.js';
import { sessionIdOf, unwrapBusEvent } from '../src/opencode-wire/bus-events.js';
import { parseSse } from '../src/util/sse-parser.js';
import { benchCli } from './cli.js';
import { percentile, writeResults } from './results.js';

const WARMUP_CALLS = 50;
/** The caller's bound on each call (never reached here: the server answers at once). */
const CALL_TIMEOUT_MS = 30_000;
/** Bytes per chunk of the in-memory event stream (a network read delivers a few kB at a time). */
const STREAM_CHUNK_BYTES = 4096;
const out = (line = ''): boolean => process.stdout.write(`${line}\n`);

const USAGE = 'usage: node --import tsx bench/sdk-client-overhead.ts [--calls 500] [--events 50]   (see docs/performance.md)\n';
const { opts, usage } = benchCli(USAGE, {
  calls: { type: 'string', default: '500' },
  events: { type: 'string', default: '50' },
  help: { type: 'boolean' },
} as const);
const CALLS = Number(opts.calls);
const EVENTS = Number(opts.events);
if (!Number.isInteger(CALLS) || CALLS < 10 || !Number.isInteger(EVENTS) || EVENTS < 1) usage(2);

// ---------------------------------------------------------------- a serve that answers at once
const PASSWORD = 'bench-password';
const DIRECTORY = '/work/bench workspace';
const now = Date.now();
const sessionInfo = (id: string): unknown => ({
  id,
  slug: 'bench',
  projectID: 'global',
  directory: DIRECTORY,
  title: 'Session bench',
  version: '1.18.33',
  time: { created: now, updated: now },
});
const messageAnswer = (sessionID: string): unknown => ({
  info: {
    id: 'msg_2',
    sessionID,
    role: 'assistant',
    parentID: 'msg_1',
    modelID: 'stub-model',
    providerID: 'stub',
    mode: 'build',
    agent: 'build',
    path: { cwd: DIRECTORY, root: DIRECTORY },
    cost: 0,
    tokens: { total: 18, input: 10, output: 8, reasoning: 0, cache: { read: 0, write: 0 } },
    time: { created: now, completed: now + 250 },
    finish: 'stop',
  },
  parts: [
    { id: 'prt_1', sessionID, messageID: 'msg_2', type: 'step-start' },
    { id: 'prt_2', sessionID, messageID: 'msg_2', type: 'text', text: 'Hello from the bench. '.repeat(20), time: { start: now, end: now + 200 } },
    {
      id: 'prt_3',
      sessionID,
      messageID: 'msg_2',
      type: 'step-finish',
      reason: 'stop',
      cost: 0,
      tokens: { input: 10, output: 8, reasoning: 0, cache: { read: 0, write: 0 } },
    },
  ],
});

let sessionCounter = 0;
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    const send = (value: unknown): void => {
      const body = JSON.stringify(value);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    const parts = pathname.split('/');
    if (req.method === 'POST' && pathname === '/session') send(sessionInfo(`ses_${(sessionCounter += 1)}`));
    else if (req.method === 'POST' && parts[3] === 'message') send(messageAnswer(parts[2] ?? ''));
    else if (req.method === 'POST' && parts[3] === 'abort') send(true);
    else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"name":"NotFoundError","data":{"message":"no such route"}}');
    }
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const authorization = `Basic ${Buffer.from(`opencode:${PASSWORD}`).toString('base64')}`;

// ---------------------------------------------------------------- (a) the hand-written client
// The request path of src/manager/server/opencode-client.ts before the SDK (commit e185347), verbatim
// but for the class around it.
async function handRequest(
  method: string,
  path: string,
  query: Record<string, string>,
  body: unknown,
  signal: AbortSignal,
  dispatcher?: Agent,
): Promise<unknown> {
  const url = new URL(path, baseUrl);
  for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
  const response = await fetch(url.toString(), {
    method,
    headers: { authorization, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal,
    ...(dispatcher === undefined ? {} : { dispatcher }),
  });
  const text = await response.text();
  const isJson = (response.headers.get('content-type') ?? '').includes('json');
  if (!response.ok || !isJson) throw new Error(`opencode answered ${response.status} to ${path}`);
  return text === '' ? undefined : (JSON.parse(text) as unknown);
}

// ---------------------------------------------------------------- (b) the SDK, (c) the service's client
const sdk = createOpencodeClient({ baseUrl, headers: { authorization }, throwOnError: true });
const current = new OpencodeClient(baseUrl, PASSWORD);

const MESSAGE = { parts: [{ type: 'text' as const, text: 'Say hello.' }], model: { providerID: 'stub', modelID: 'stub-model' } };

interface Variant {
  readonly name: string;
  readonly createSession: () => Promise<string>;
  readonly sendMessage: (sessionId: string) => Promise<unknown>;
  readonly abortSession: (sessionId: string) => Promise<unknown>;
}

/** A pool like OpencodeClient's (undici without its 300 s timeouts): separates the pool's cost from the SDK's. */
const pool = new Agent({ headersTimeout: 0, bodyTimeout: 0 });
const handVariant = (name: string, dispatcher?: Agent): Variant => ({
  name,
  createSession: async () => {
    const body = (await handRequest(
      'POST',
      '/session',
      { directory: DIRECTORY },
      { title: 'Session bench' },
      AbortSignal.timeout(CALL_TIMEOUT_MS),
      dispatcher,
    )) as {
      id: string;
    };
    return body.id;
  },
  sendMessage: (id) =>
    handRequest('POST', `/session/${encodeURIComponent(id)}/message`, { directory: DIRECTORY }, MESSAGE, AbortSignal.timeout(CALL_TIMEOUT_MS), dispatcher),
  abortSession: (id) =>
    handRequest('POST', `/session/${encodeURIComponent(id)}/abort`, { directory: DIRECTORY }, undefined, AbortSignal.timeout(CALL_TIMEOUT_MS), dispatcher),
});

const variants: Variant[] = [
  handVariant('hand-written fetch'),
  handVariant('hand-written, undici pool', pool),
  {
    name: '@opencode-ai/sdk v2',
    createSession: async () =>
      (await sdk.session.create({ directory: DIRECTORY, title: 'Session bench' }, { signal: AbortSignal.timeout(CALL_TIMEOUT_MS), throwOnError: true })).data
        .id,
    sendMessage: async (id) =>
      (await sdk.session.prompt({ sessionID: id, directory: DIRECTORY, ...MESSAGE }, { signal: AbortSignal.timeout(CALL_TIMEOUT_MS), throwOnError: true }))
        .data,
    abortSession: async (id) =>
      (await sdk.session.abort({ sessionID: id, directory: DIRECTORY }, { signal: AbortSignal.timeout(CALL_TIMEOUT_MS), throwOnError: true })).data,
  },
  {
    name: 'OpencodeClient (src)',
    createSession: () => current.createSession(DIRECTORY, 'Session bench', CALL_TIMEOUT_MS),
    sendMessage: (id) => current.sendMessage(id, DIRECTORY, MESSAGE, AbortSignal.timeout(CALL_TIMEOUT_MS)),
    abortSession: (id) => current.abortSession(id, DIRECTORY, CALL_TIMEOUT_MS),
  },
];

// ---------------------------------------------------------------- a turn's events, in memory
const eventStreamText = ((): string => {
  const sessionID = 'ses_events';
  const lines: string[] = [];
  const push = (type: string, properties: unknown): number =>
    lines.push(`data: ${JSON.stringify({ directory: DIRECTORY, payload: { id: `evt_${lines.length}`, type, properties } })}\n\n`);
  push('session.status', { sessionID, status: { type: 'busy' } });
  push('message.updated', { sessionID, info: { id: 'msg_2', sessionID, role: 'assistant', time: { created: now } } });
  while (lines.length < EVENTS - 2) {
    if (lines.length % 5 === 0) {
      push('message.part.updated', { sessionID, part: { id: 'prt_2', sessionID, messageID: 'msg_2', type: 'text', text: 'Hello '.repeat(lines.length) } });
    } else push('message.part.delta', { sessionID, messageID: 'msg_2', partID: 'prt_2', field: 'text', delta: 'Hello ' });
  }
  push('session.status', { sessionID, status: { type: 'idle' } });
  push('session.idle', { sessionID });
  return lines.slice(0, EVENTS).join('');
})();
const eventStreamBytes = new TextEncoder().encode(eventStreamText);

function eventStream(): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= eventStreamBytes.length) return controller.close();
      controller.enqueue(eventStreamBytes.subarray(offset, (offset += STREAM_CHUNK_BYTES)));
    },
  });
}

/** What the hub does per event: SSE parse, JSON.parse, unwrap, find the session. Answers the events read. */
async function hubParse(): Promise<number> {
  let count = 0;
  for await (const message of parseSse(eventStream())) {
    const event = unwrapBusEvent(JSON.parse(message.data));
    if (event !== undefined && sessionIdOf(event) !== undefined) count += 1;
  }
  return count;
}

const sdkEvents = createOpencodeClient({
  baseUrl,
  fetch: () => Promise.resolve(new Response(eventStream(), { headers: { 'content-type': 'text/event-stream' } })),
});

/** The SDK's SSE client over the same bytes (it parses the JSON itself), then the same unwrap. */
async function sdkParse(): Promise<number> {
  let count = 0;
  const { stream } = await sdkEvents.global.event({ sseMaxRetryAttempts: 1 });
  for await (const data of stream) {
    const event = unwrapBusEvent(data);
    if (event !== undefined && sessionIdOf(event) !== undefined) count += 1;
  }
  return count;
}

// ---------------------------------------------------------------- measuring
type Op = 'createSession' | 'sendMessage' | 'abortSession' | 'events';
const OPS: readonly Op[] = ['createSession', 'sendMessage', 'abortSession'];
const samples = new Map<string, number[]>();
/** Per round, each client's whole turn (create + message + abort): the per-round differences are paired. */
const turnTotals = new Map<string, number[]>(variants.map((v) => [v.name, []]));
const record = (variant: string, op: Op, ms: number): void => {
  const key = `${variant}\u0000${op}`;
  const list = samples.get(key) ?? [];
  list.push(ms);
  samples.set(key, list);
};

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await fn();
  return { ms: performance.now() - started, value };
}

async function round(index: number, measure: boolean): Promise<void> {
  // Who goes first rotates with the round.
  const order = variants.map((_, i) => variants[(i + index) % variants.length]!);
  for (const variant of order) {
    const created = await timed(variant.createSession);
    const sent = await timed(() => variant.sendMessage(created.value));
    const aborted = await timed(() => variant.abortSession(created.value));
    if (!measure) continue;
    record(variant.name, 'createSession', created.ms);
    record(variant.name, 'sendMessage', sent.ms);
    record(variant.name, 'abortSession', aborted.ms);
    turnTotals.get(variant.name)?.push(created.ms + sent.ms + aborted.ms);
  }
  const parsers: [string, () => Promise<number>][] = [
    ['hub parser (raw stream)', hubParse],
    ['@opencode-ai/sdk v2', sdkParse],
  ];
  if (index % 2 === 1) parsers.reverse();
  for (const [name, parse] of parsers) {
    const { ms, value } = await timed(parse);
    if (value !== EVENTS) throw new Error(`${name} read ${value} of ${EVENTS} events`);
    if (measure) record(name, 'events', ms);
  }
}

const startedAt = new Date();
try {
  for (let i = 0; i < WARMUP_CALLS; i += 1) await round(i, false);
  for (let i = 0; i < CALLS; i += 1) await round(i, true);
} finally {
  server.closeAllConnections();
  server.close();
  await pool.close();
}

interface Row {
  readonly client: string;
  readonly op: Op;
  readonly n: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
}
const rows: Row[] = [...samples.entries()].map(([key, list]) => {
  const [client, op] = key.split('\u0000') as [string, Op];
  return { client, op, n: list.length, p50Ms: percentile(list, 0.5), p95Ms: percentile(list, 0.95) };
});
const p50 = (client: string, op: Op): number => rows.find((r) => r.client === client && r.op === op)?.p50Ms ?? Number.NaN;
/** A turn's calls: create, message and abort (a follow-up turn makes only the message call). */
const turnP50 = (client: string): number => OPS.reduce((sum, op) => sum + p50(client, op), 0);
const [hand, handPool, bare, src] = variants.map((v) => v.name) as [string, string, string, string];
/** p50 of the per-round differences of a client's turn over the hand-written one's. */
const pairedOver = (client: string): number => {
  const mine = turnTotals.get(client) ?? [];
  const base = turnTotals.get(hand) ?? [];
  return percentile(
    mine.map((ms, i) => ms - (base[i] ?? Number.NaN)),
    0.5,
  );
};
const summary = {
  turnP50Ms: Object.fromEntries(variants.map((v) => [v.name, turnP50(v.name)])),
  sdkOverTurnP50Ms: pairedOver(bare),
  poolOverTurnP50Ms: pairedOver(handPool),
  srcOverTurnP50Ms: pairedOver(src),
  eventsP50Ms: { hub: p50('hub parser (raw stream)', 'events'), sdk: p50('@opencode-ai/sdk v2', 'events') },
  budgetMs: 5,
};

const f = (ms: number): string => ms.toFixed(3);
const markdown = [
  `## sdk-client-overhead: ${CALLS} interleaved calls per client and op, ${EVENTS} events per stream (${startedAt.toISOString()})`,
  '',
  '| client | call | n | p50 ms | p95 ms |',
  '|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.client} | ${r.op === 'events' ? `parse ${EVENTS} events` : r.op} | ${r.n} | ${f(r.p50Ms)} | ${f(r.p95Ms)} |`),
  '',
  `Turn (create + message + abort), sum of p50s: ${variants.map((v) => `${v.name} ${f(turnP50(v.name))} ms`).join('; ')}.`,
  `Added per turn over the hand-written client (p50 of the paired per-round differences): SDK ${f(summary.sdkOverTurnP50Ms)} ms; hand-written on the undici pool ${f(summary.poolOverTurnP50Ms)} ms; OpencodeClient (src: SDK + pool) ${f(summary.srcOverTurnP50Ms)} ms (budget: the manager's whole overhead < 5 ms p50).`,
  `Events: ${f(summary.eventsP50Ms.hub)} ms (hub) vs ${f(summary.eventsP50Ms.sdk)} ms (SDK) per ${EVENTS} events.`,
].join('\n');
out(markdown);
const written = writeResults('sdk-client-overhead', startedAt, { calls: CALLS, events: EVENTS, node: process.version, rows, summary }, markdown);
out();
out(`results: ${written.json}${written.markdown === undefined ? '' : `, ${written.markdown}`}`);
