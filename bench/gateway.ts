// What the model gateway adds to a model call: streaming calls sent to the stub model directly and,
// interleaved, through the gateway (a session's own listener, its virtual key, a reservation and
// the usage read from the stream). The stub runs in a child process, so the CPU this process spends
// is the client's plus, through the gateway, the gateway's: the difference per call is the gateway's.
// Usage: node --import tsx bench/gateway.ts [--calls 300]   (bench/README.md)
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ModelGateway } from '../src/gateway/model-gateway.js';
import { createSilentLogger } from '../src/logging/logger.js';
import { gatewayRecorder } from '../src/metrics/gateway-metrics.js';
import { createMetrics } from '../src/metrics/metrics.js';
import { addCall, emptyUsage, type SessionUsage } from '../src/usage/usage.js';
import { configDefaults } from '../src/config/config.js';
import { stubOpencodeConfig } from '../test/fixtures/stub-llm/opencode-config.mjs';
import { percentile, writeResults } from './results.js';

const out = (line = ''): boolean => process.stdout.write(`${line}\n`);
const { values: opts } = parseArgs({ options: { calls: { type: 'string', default: '300' } } });
const CALLS = Number(opts.calls);
if (!Number.isInteger(CALLS) || CALLS < 10) {
  process.stderr.write('usage: node --import tsx bench/gateway.ts [--calls 300]\n');
  process.exit(2);
}

const stubScript = path.join(import.meta.dirname, '..', 'test', 'fixtures', 'stub-llm', 'server.mjs');
const stub = spawn(process.execPath, [stubScript, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
const [line] = (await once(stub.stdout, 'data')) as [Buffer];
const stubURL = /listening on (http:\/\/\S+)/.exec(line.toString())?.[1];
if (stubURL === undefined) throw new Error(`the stub did not start: ${line.toString()}`);

const usage = new Map<string, SessionUsage>([['bench', emptyUsage()]]);
const gateway = ModelGateway.prepare({ OPENCODE_CONFIG_CONTENT: JSON.stringify(stubOpencodeConfig(`${stubURL}/v1`)) }, configDefaults().gateway);
if (gateway === undefined) throw new Error('the gateway is off');
const budgets = configDefaults().budgets;
await gateway.start({
  usageOf: (id) => usage.get(id),
  addUsage: (id, tokens, cost) => usage.set(id, addCall(usage.get(id) ?? emptyUsage(), tokens, cost)),
  sessionOfConversation: () => undefined,
  budgets: () => ({ ...budgets, sessionTokenBudget: 1e12 }),
  rpm: 0,
  termsOf: () => ({ price: { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 }, outputLimit: 32000 }),
  modelLabel: () => 'stub/stub-model',
  recorder: gatewayRecorder(createMetrics({ collectDefault: false })),
  logger: createSilentLogger(),
});
const access = await gateway.sessionAccess('bench');
const config = JSON.parse(access.env.OPENCODE_CONFIG_CONTENT ?? '{}') as { provider: { stub: { options: { baseURL: string; apiKey: string } } } };
const viaGateway = config.provider.stub.options;

const body = JSON.stringify({
  model: 'stub-model',
  stream: true,
  stream_options: { include_usage: true },
  max_tokens: 1000,
  messages: [{ role: 'user', content: 'benchmark MARK:bench' }],
});

/** One streaming call: time to the first chunk and to the end, in ms. */
async function streamCall(baseURL: string, key: string): Promise<{ firstMs: number; totalMs: number }> {
  const started = performance.now();
  const response = await fetch(`${baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body,
  });
  if (response.status !== 200 || response.body === null) throw new Error(`status ${response.status}`);
  let firstMs: number | undefined;
  for await (const chunk of response.body) {
    void chunk;
    firstMs ??= performance.now() - started;
  }
  return { firstMs: firstMs ?? Number.NaN, totalMs: performance.now() - started };
}

const direct = { first: [] as number[], total: [] as number[], cpuUs: 0 };
const gated = { first: [] as number[], total: [] as number[], cpuUs: 0 };
const cpu = (): number => {
  const used = process.cpuUsage();
  return used.user + used.system;
};
try {
  for (let i = 0; i < 20; i += 1) {
    await streamCall(`${stubURL}/v1`, 'x');
    await streamCall(viaGateway.baseURL, viaGateway.apiKey);
  }
  for (let i = 0; i < CALLS; i += 1) {
    // Alternate which goes first, so a drift in machine load hits both alike.
    const order = i % 2 === 0 ? (['direct', 'gated'] as const) : (['gated', 'direct'] as const);
    for (const which of order) {
      const target = which === 'direct' ? direct : gated;
      const before = cpu();
      const call = which === 'direct' ? await streamCall(`${stubURL}/v1`, 'x') : await streamCall(viaGateway.baseURL, viaGateway.apiKey);
      target.cpuUs += cpu() - before;
      target.first.push(call.firstMs);
      target.total.push(call.totalMs);
    }
  }
} finally {
  await gateway.stop();
  stub.kill('SIGTERM');
}

const round = (ms: number): number => Math.round(ms * 1000) / 1000;
const counted = usage.get('bench');
const result = {
  calls: CALLS,
  firstChunkMs: {
    direct: { p50: round(percentile(direct.first, 0.5)), p95: round(percentile(direct.first, 0.95)) },
    gateway: { p50: round(percentile(gated.first, 0.5)), p95: round(percentile(gated.first, 0.95)) },
  },
  totalMs: {
    direct: { p50: round(percentile(direct.total, 0.5)), p95: round(percentile(direct.total, 0.95)) },
    gateway: { p50: round(percentile(gated.total, 0.5)), p95: round(percentile(gated.total, 0.95)) },
  },
  cpuMsPerCall: {
    direct: round(direct.cpuUs / CALLS / 1000),
    gateway: round(gated.cpuUs / CALLS / 1000),
    added: round((gated.cpuUs - direct.cpuUs) / CALLS / 1000),
  },
  /** Output tokens the gateway counted for the session (every call through it, warm-up included). */
  countedOutputTokens: counted?.tokens.output ?? 0,
};
const added = (q: 'p50' | 'p95'): number => round(result.firstChunkMs.gateway[q] - result.firstChunkMs.direct[q]);
const markdown = [
  `# Model gateway overhead (${CALLS} streaming calls each way, interleaved, stub model)`,
  '',
  '| | direct | through the gateway | added |',
  '| --- | --- | --- | --- |',
  `| first chunk p50 (ms) | ${result.firstChunkMs.direct.p50} | ${result.firstChunkMs.gateway.p50} | ${added('p50')} |`,
  `| first chunk p95 (ms) | ${result.firstChunkMs.direct.p95} | ${result.firstChunkMs.gateway.p95} | ${added('p95')} |`,
  `| whole call p50 (ms) | ${result.totalMs.direct.p50} | ${result.totalMs.gateway.p50} | ${round(result.totalMs.gateway.p50 - result.totalMs.direct.p50)} |`,
  `| CPU per call, this process (ms) | ${result.cpuMsPerCall.direct} | ${result.cpuMsPerCall.gateway} | ${result.cpuMsPerCall.added} |`,
  '',
].join('\n');
out(markdown);
const files = writeResults('gateway', new Date(), result, markdown);
out(`results: ${files.json}`);
