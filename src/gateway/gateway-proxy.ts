// One model call through the gateway: the caller's virtual key names its session, the call reserves
// its worst case against that session's budgets, goes upstream with the real key, and its answer
// streams back chunk by chunk while the provider's usage fields are read on the way; then the
// reservation is settled to that usage. Unknown keys get 401 and nothing goes upstream.
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Logger } from '../logging/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { ModelCallOutcome } from '../metrics/gateway-metrics.js';
import { errorMessage, isRecord } from '../util/guards.js';
import { createLineSplitter } from '../util/line-splitter.js';
import type { ModelLedger, ModelTerms, Reservation } from './model-ledger.js';
import type { UpstreamProvider } from './upstream-providers.js';
import type { VirtualKeys } from './virtual-keys.js';
import { authHeaders, keyOf, maxOutputOf, UsageReader, withStreamUsage, type Wire } from './wire-formats.js';

/** Largest request body taken (opencode's requests with a long history reach a few MB). */
export const MAX_REQUEST_BYTES = 32 * 1024 * 1024;
/** Largest JSON answer read for its usage (a stream is read line by line, whatever its size). */
const MAX_ANSWER_SCAN_BYTES = 8 * 1024 * 1024;

/** Headers that belong to one hop, or that the gateway sets itself. */
const DROPPED_REQUEST_HEADERS = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'content-length',
  'authorization',
  'x-api-key',
  'accept-encoding',
]);
const DROPPED_RESPONSE_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade', 'trailer']);

export interface ForwardTo {
  /** OCPM_MODEL_GATEWAY_UPSTREAM: a base URL, `{provider}` replaced by the provider's id. */
  readonly template: string;
  /** The header that carries the session id there. */
  readonly sessionHeader: string;
}

export interface ProxyDeps {
  readonly keys: VirtualKeys;
  readonly ledger: ModelLedger;
  readonly upstreams: ReadonlyMap<string, UpstreamProvider>;
  /** The session of the server's slot a shared server's call is for, from opencode's `x-session-id` (its conversation id). */
  readonly sessionOfConversation: (opencodeSessionId: string, slot: number) => string | undefined;
  readonly sessionExists: (sessionId: string) => boolean;
  readonly termsOf: (provider: string, model: string | undefined) => ModelTerms;
  /** The metric label of `provider/model`: a configured model, else `other`. */
  readonly modelLabel: (provider: string, model: string | undefined) => string;
  /** Adds a settled call to the token and cost metrics. */
  readonly countUsage: (label: string, tokens: NonNullable<UsageReader['usage']>, cost: number) => void;
  readonly metrics: Metrics['gateway'];
  readonly logger: Logger;
  readonly forward: ForwardTo | undefined;
  /** Bounds an upstream call from connection to the end of its answer. */
  readonly upstreamTimeoutMs: number;
}

/** An error in the caller's wire format (opencode shows its message as the turn's error). */
function sendError(res: ServerResponse, wire: Wire, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = wire === 'anthropic' ? { type: 'error', error: { type: code, message } } : { error: { message, type: code, code } };
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_REQUEST_BYTES) {
        resolve(undefined);
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** `/anthropic/v1/messages` -> the Messages API; everything else is OpenAI's shape. */
function wireOf(path: string): Wire {
  return /\/messages(\/|$)/.test(path) && !/\/chat\/completions/.test(path) ? 'anthropic' : 'openai';
}

export class GatewayProxy {
  constructor(private readonly deps: ProxyDeps) {}

  /** `boundTo`: the session whose own listener took the call (only its key is valid there); undefined: the main listener. */
  handle(req: IncomingMessage, res: ServerResponse, boundTo: string | undefined): void {
    this.serve(req, res, boundTo).catch((error: unknown) => {
      this.deps.logger.warn('Model gateway call failed', { error: errorMessage(error) });
      sendError(res, 'openai', 502, 'gateway_error', 'the model gateway could not complete the call');
    });
  }

  private async serve(req: IncomingMessage, res: ServerResponse, boundTo: string | undefined): Promise<void> {
    const { deps } = this;
    const url = new URL(req.url ?? '/', 'http://gateway');
    const [, encodedProvider = '', ...rest] = url.pathname.split('/');
    const provider = decodeURIComponent(encodedProvider);
    const subPath = `/${rest.join('/')}`;
    const wire = wireOf(subPath);
    const upstream = deps.upstreams.get(provider);
    if (upstream === undefined) {
      sendError(res, wire, 404, 'not_found', `the model gateway has no provider "${provider}"`);
      return;
    }
    const sessionId = this.sessionOf(req.headers, boundTo);
    if (sessionId === undefined) {
      deps.metrics.modelCalls.inc({ provider, model: 'other', outcome: 'unauthorized' });
      sendError(res, wire, 401, 'authentication_error', 'unknown or revoked key');
      return;
    }
    const raw = await readBody(req);
    if (raw === undefined) {
      sendError(res, wire, 413, 'invalid_request_error', `the request body is larger than ${MAX_REQUEST_BYTES} bytes`);
      return;
    }
    let body: Record<string, unknown> | undefined;
    let payload = raw;
    if (req.method === 'POST' && raw.length > 0) {
      try {
        const parsed: unknown = JSON.parse(raw.toString('utf8'));
        body = isRecord(parsed) ? parsed : undefined;
      } catch {
        body = undefined;
      }
      if (body === undefined) {
        sendError(res, wire, 400, 'invalid_request_error', 'the request body is not a JSON object');
        return;
      }
      if (withStreamUsage(wire, subPath, body)) payload = Buffer.from(JSON.stringify(body));
    }
    const model = typeof body?.model === 'string' ? body.model : undefined;
    const label = deps.modelLabel(provider, model);
    let reservation: Reservation | undefined;
    if (body !== undefined) {
      const admission = deps.ledger.admit(sessionId, deps.termsOf(provider, model), maxOutputOf(body));
      if (!admission.ok) {
        deps.metrics.reservationsRefused.inc({ reason: admission.reason });
        if (admission.reason === 'rate') {
          deps.metrics.modelCalls.inc({ provider, model: label, outcome: 'refused_rate' });
          const seconds = Math.ceil((admission.retryAfterMs ?? 1000) / 1000);
          sendError(res, wire, 429, 'rate_limit_error', `Session model call limit: ${admission.message}`, {
            'retry-after': String(seconds),
            'retry-after-ms': String(admission.retryAfterMs ?? 1000),
          });
        } else {
          deps.metrics.modelCalls.inc({ provider, model: label, outcome: 'refused_budget' });
          // 402: opencode does not retry it, so the turn ends here with this message.
          sendError(res, wire, 402, 'budget_exceeded', `budget_exceeded: ${admission.message}`);
        }
        return;
      }
      reservation = admission.reservation;
    }
    await this.forward({ req, res, upstream, subPath, search: url.search, payload, wire, sessionId, label, reservation, provider });
  }

  /**
   * The session the key stands for: on a session's own listener only that session's key; on the main
   * listener only a shared server's key, for the session its conversation belongs to.
   */
  private sessionOf(headers: IncomingHttpHeaders, boundTo: string | undefined): string | undefined {
    const holder = this.deps.keys.holderOf(keyOf(headers));
    if (holder === undefined) return undefined;
    let sessionId: string | undefined;
    if (boundTo !== undefined) sessionId = holder.kind === 'session' && holder.sessionId === boundTo ? boundTo : undefined;
    else if (holder.kind === 'session') sessionId = undefined;
    else {
      const conversation = headers['x-session-id'];
      sessionId = typeof conversation === 'string' ? this.deps.sessionOfConversation(conversation, holder.slot) : undefined;
    }
    return sessionId !== undefined && this.deps.sessionExists(sessionId) ? sessionId : undefined;
  }

  private forward(call: {
    req: IncomingMessage;
    res: ServerResponse;
    upstream: UpstreamProvider;
    subPath: string;
    search: string;
    payload: Buffer;
    wire: Wire;
    sessionId: string;
    label: string;
    reservation: Reservation | undefined;
    provider: string;
  }): Promise<void> {
    const { deps } = this;
    const { req, res, upstream, wire, reservation, provider } = call;
    const base =
      deps.forward === undefined ? upstream.baseURL : deps.forward.template.replaceAll('{provider}', encodeURIComponent(provider)).replace(/\/+$/, '');
    const target = new URL(`${base}${call.subPath}${call.search}`);
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && !DROPPED_REQUEST_HEADERS.has(name)) headers[name] = value;
    Object.assign(
      headers,
      upstream.headers,
      req.headers['x-api-key'] !== undefined || wire === 'anthropic' ? authHeaders('anthropic', upstream.apiKey) : authHeaders('openai', upstream.apiKey),
    );
    headers['accept-encoding'] = 'identity';
    if (call.payload.length > 0) headers['content-length'] = String(call.payload.length);
    if (deps.forward !== undefined) headers[deps.forward.sessionHeader] = call.sessionId;
    const startedAt = process.hrtime.bigint();
    const seconds = (): number => Number(process.hrtime.bigint() - startedAt) / 1e9;
    const reader = new UsageReader(wire);
    return new Promise<void>((resolve) => {
      let settled = false;
      let received = false;
      const finish = (outcome: ModelCallOutcome, status?: number | 'connect'): void => {
        if (settled) return;
        settled = true;
        deps.metrics.modelCallSeconds.observe({ provider, phase: 'total' }, seconds());
        deps.metrics.modelCalls.inc({ provider, model: call.label, outcome });
        if (status !== undefined) deps.metrics.upstreamErrors.inc({ provider, status: String(status) });
        if (reservation !== undefined) {
          if (outcome === 'success' || (outcome === 'aborted' && received)) {
            const used = deps.ledger.settle(reservation, reader.usage);
            deps.countUsage(call.label, used.tokens, used.cost);
          } else deps.ledger.release(reservation);
        }
        resolve();
      };
      const transport = target.protocol === 'https:' ? https : http;
      const upstreamReq = transport.request(target, { method: req.method, headers }, (upstreamRes) => {
        const status = upstreamRes.statusCode ?? 502;
        const responseHeaders: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(upstreamRes.headers))
          if (value !== undefined && !DROPPED_RESPONSE_HEADERS.has(name)) responseHeaders[name] = value;
        res.writeHead(status, responseHeaders);
        res.flushHeaders();
        const streaming = String(upstreamRes.headers['content-type'] ?? '').includes('text/event-stream');
        const lines = createLineSplitter((line) => {
          if (line.startsWith('data:')) reader.readEvent(line.slice(5).trim());
        }, 1024 * 1024);
        let answer = '';
        upstreamRes.on('data', (chunk: Buffer) => {
          if (!received) {
            received = true;
            deps.metrics.modelCallSeconds.observe({ provider, phase: 'first_byte' }, seconds());
          }
          res.write(chunk);
          if (status >= 400) return;
          if (streaming) lines.push(chunk);
          else if (answer.length < MAX_ANSWER_SCAN_BYTES) answer += chunk.toString('utf8');
        });
        upstreamRes.on('end', () => {
          res.end();
          if (status >= 400) {
            finish('upstream_error', status);
            return;
          }
          if (streaming) lines.end();
          else reader.readAnswer(answer);
          finish('success');
        });
        upstreamRes.on('error', () => {
          res.destroy();
          finish('aborted');
        });
      });
      // A bound on the whole call, not only on silence: a stream that never ends is ended.
      const deadline = setTimeout(() => upstreamReq.destroy(new Error(`the call took longer than ${deps.upstreamTimeoutMs} ms`)), deps.upstreamTimeoutMs);
      deadline.unref();
      upstreamReq.on('close', () => clearTimeout(deadline));
      upstreamReq.on('error', (error) => {
        if (settled) return;
        if (!res.headersSent) {
          deps.logger.warn('Model provider unreachable', { provider, error: error.message });
          sendError(res, wire, 502, 'api_error', `the model provider "${provider}" could not be reached`);
          finish('failed', 'connect');
        } else {
          res.destroy();
          finish('aborted');
        }
      });
      // The caller went away (a turn aborted): the upstream call ends too.
      res.on('close', () => {
        if (!res.writableFinished) {
          upstreamReq.destroy();
          finish('aborted');
        }
      });
      upstreamReq.end(call.payload);
    });
  }
}
