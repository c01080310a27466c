// The upstream half of an admitted model call: it goes to the provider (or to the upstream gateway)
// with the real key, the answer streams back chunk by chunk while the provider's usage fields are
// read on the way, and the call's reservation is settled to that usage, or released when the call
// used nothing.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Logger } from '../logging/logger.js';
import type { ModelCallOutcome } from '../metrics/gateway-metrics.js';
import { createLineSplitter } from '../util/line-splitter.js';
import { sendError } from './gateway-answers.js';
import type { GatewayRecorder } from './gateway-recorder.js';
import type { ModelLedger, Reservation } from './model-ledger.js';
import type { UpstreamProvider } from './upstream-providers.js';
import { authHeaders, UsageReader, type Wire } from './wire-formats.js';

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

export interface RelayDeps {
  readonly ledger: ModelLedger;
  readonly recorder: GatewayRecorder;
  readonly logger: Logger;
  readonly forward: ForwardTo | undefined;
  /** Bounds an upstream call from connection to the end of its answer. */
  readonly upstreamTimeoutMs: number;
}

/** An admitted call: what goes upstream, for which session, and what it reserved (none for a bodiless call). */
export interface UpstreamCall {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly upstream: UpstreamProvider;
  readonly subPath: string;
  readonly search: string;
  readonly payload: Buffer;
  readonly wire: Wire;
  readonly sessionId: string;
  /** The model's metric label. */
  readonly label: string;
  readonly reservation: Reservation | undefined;
  readonly provider: string;
}

/** Where the call goes, with the caller's headers less the hop's and the keys, plus the real key. */
function upstreamRequest(deps: RelayDeps, call: UpstreamCall): { target: URL; headers: Record<string, string | string[]> } {
  const { req, upstream, wire, provider } = call;
  const base = deps.forward === undefined ? upstream.baseURL : deps.forward.template.replaceAll('{provider}', encodeURIComponent(provider)).replace(/\/+$/, '');
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
  return { target, headers };
}

/** Relays the call and its answer; resolves once the call is settled, however it ended. */
export function relayUpstream(deps: RelayDeps, call: UpstreamCall): Promise<void> {
  const { recorder } = deps;
  const { req, res, wire, reservation, provider } = call;
  const { target, headers } = upstreamRequest(deps, call);
  const startedAt = process.hrtime.bigint();
  const seconds = (): number => Number(process.hrtime.bigint() - startedAt) / 1e9;
  const reader = new UsageReader(wire);
  return new Promise<void>((resolve) => {
    let settled = false;
    let received = false;
    const finish = (outcome: ModelCallOutcome, status?: number | 'connect'): void => {
      if (settled) return;
      settled = true;
      recorder.timed(provider, 'total', seconds());
      recorder.called(provider, call.label, outcome);
      if (status !== undefined) recorder.upstreamFailed(provider, status);
      if (reservation !== undefined) {
        if (outcome === 'success' || (outcome === 'aborted' && received)) {
          const used = deps.ledger.settle(reservation, reader.usage);
          recorder.used(call.label, used.tokens, used.cost);
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
          recorder.timed(provider, 'first_byte', seconds());
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
