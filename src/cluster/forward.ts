// Relays one client request to the replica that owns its session and streams the answer back (JSON
// or SSE) as it comes. The owner authenticates the client's own token again, so a forward never
// grants more than the client has; `X-Ocpm-Forwarded-By` tells it not to forward any further.
import http from 'node:http';
import type { Request, Response } from 'express';

export const FORWARDED_BY_HEADER = 'x-ocpm-forwarded-by';
export const REPLICA_HEADER = 'x-ocpm-replica';

/** Request headers the owner needs; everything else (hop-by-hop, cookies) stays here. */
const REQUEST_HEADERS = ['authorization', 'accept', 'content-type', 'x-session-id', 'last-event-id', 'user-agent', 'x-request-id'];
/** Response headers passed back to the client. */
const RESPONSE_HEADERS = ['content-type', 'cache-control', 'retry-after', 'www-authenticate', 'x-accel-buffering', REPLICA_HEADER];

export type ForwardResult =
  /** The owner's answer went to the client. */
  | { readonly kind: 'relayed'; readonly status: number; readonly headersMs: number }
  /** The owner no longer holds the session (421): nothing was sent to the client. */
  | { readonly kind: 'not_owner' }
  /** No answer from the owner: nothing was sent to the client. */
  | { readonly kind: 'unreachable'; readonly error: Error };

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

export function forwardRequest(req: Request, res: Response, target: string, self: string, connectTimeoutMs: number): Promise<ForwardResult> {
  const url = new URL(req.originalUrl, target);
  const headers: Record<string, string> = { [FORWARDED_BY_HEADER]: self };
  for (const name of REQUEST_HEADERS) {
    const value = req.get(name);
    if (value !== undefined) headers[name] = value;
  }
  const hasBody = req.body !== undefined && !(req.method === 'GET' || req.method === 'HEAD');
  const body = hasBody ? Buffer.from(JSON.stringify(req.body)) : undefined;
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(body.length);
  } else {
    delete headers['content-type'];
  }
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const settle = (result: ForwardResult): void => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    const upstream = http.request(url, { method: req.method, headers, agent }, (answer) => {
      const status = answer.statusCode ?? 502;
      if (status === 421) {
        answer.resume();
        settle({ kind: 'not_owner' });
        return;
      }
      res.status(status);
      for (const name of RESPONSE_HEADERS) {
        const value = answer.headers[name];
        if (value !== undefined) res.setHeader(name, value);
      }
      res.setHeader(FORWARDED_BY_HEADER, self);
      res.flushHeaders();
      const headersMs = performance.now() - started;
      answer.on('data', (chunk: Buffer) => res.write(chunk));
      answer.on('end', () => {
        res.end();
        settle({ kind: 'relayed', status, headersMs });
      });
      answer.on('error', () => {
        res.destroy();
        settle({ kind: 'relayed', status, headersMs });
      });
    });
    // A dead owner must not hold the client: no connection within the timeout counts as unreachable.
    // Once connected, a JSON turn may take minutes before its answer, and a stream as long as it runs.
    const connectTimer = setTimeout(() => upstream.destroy(new Error(`no connection within ${connectTimeoutMs} ms`)), connectTimeoutMs);
    upstream.once('socket', (socket) => {
      if (!socket.connecting) clearTimeout(connectTimer);
      else socket.once('connect', () => clearTimeout(connectTimer));
    });
    upstream.on('error', (error) => {
      clearTimeout(connectTimer);
      if (!res.headersSent) settle({ kind: 'unreachable', error });
      else {
        res.destroy();
        settle({ kind: 'relayed', status: res.statusCode, headersMs: performance.now() - started });
      }
    });
    // The client went away: so does the forwarded request (the owner then aborts the turn, as it would for its own client).
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    upstream.end(body);
  });
}
