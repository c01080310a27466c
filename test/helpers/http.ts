// Small HTTP helpers over fetch: JSON calls and an SSE reader that yields events as they arrive.
import { parseSse } from '../../src/util/sse-parser.js';
/** The token startTestService configures; call() and streamEvents() send it unless told otherwise. */
export const TEST_API_TOKEN = 'test-api-token-0123456789abcdef';

/** Adds the test token unless the caller names `authorization` itself; `authorization: ''` sends none. */
function withAuth(headers: Record<string, string>): Record<string, string> {
  const named = Object.keys(headers).find((name) => name.toLowerCase() === 'authorization');
  if (named === undefined) return { authorization: `Bearer ${TEST_API_TOKEN}`, ...headers };
  if (headers[named] !== '') return headers;
  return Object.fromEntries(Object.entries(headers).filter(([name]) => name !== named));
}

export interface JsonResponse<T = unknown> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
}

/** One request; a JSON answer is parsed, any other is kept as text. `signal` bounds or cancels it. */
export async function call(
  url: string,
  method: string,
  body?: unknown,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<JsonResponse<any>> {
  const init: RequestInit = { method, headers: withAuth(headers), ...(signal === undefined ? {} : { signal }) };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const response = await fetch(url, init);
  const text = await response.text();
  let parsed: unknown = text;
  if ((response.headers.get('content-type') ?? '').includes('json')) parsed = JSON.parse(text);
  return { status: response.status, headers: response.headers, body: parsed };
}

/** call() for a client that needs a 2xx: resolves with the body, rejects with the status and body otherwise. */
export async function callOk<T = any>(url: string, method: string, body?: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<T> {
  const response = await call(url, method, body, headers, signal);
  if (response.status < 200 || response.status > 299) {
    throw new Error(
      `${method} ${url}: ${response.status} ${(typeof response.body === 'string' ? response.body : JSON.stringify(response.body)).slice(0, 300)}`,
    );
  }
  return response.body as T;
}

export interface SseEvent {
  readonly event: string;
  readonly data: any;
}

export interface EventStreamOptions {
  readonly signal?: AbortSignal;
  /** Extra headers; an `authorization` header replaces the test token (`''` sends none). */
  readonly headers?: Record<string, string>;
}

/**
 * POSTs `body` as JSON asking for an SSE stream and resolves once the stream is open (status 200 and
 * `text/event-stream`; anything else rejects with the status and body), with a generator of its events
 * as they arrive. Abort the signal to disconnect.
 */
export async function openEventStream(url: string, body: unknown, options: EventStreamOptions = {}): Promise<AsyncGenerator<SseEvent>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: withAuth({ 'content-type': 'application/json', accept: 'text/event-stream', ...options.headers }),
    body: JSON.stringify(body),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  if (response.body === null) throw new Error(`no body, status ${response.status}`);
  if (!(response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    throw new Error(`not a stream: ${response.status} ${await response.text()}`);
  }
  const stream = response.body;
  return (async function* events() {
    for await (const message of parseSse(stream)) {
      yield { event: message.event, data: JSON.parse(message.data) as unknown };
    }
  })();
}

/** Opens an SSE POST and yields each event; abort the signal to disconnect. */
export async function* streamEvents(url: string, body: unknown, signal?: AbortSignal): AsyncGenerator<SseEvent> {
  yield* await openEventStream(url, body, signal === undefined ? {} : { signal });
}
