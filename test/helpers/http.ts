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

export async function call(url: string, method: string, body?: unknown, headers: Record<string, string> = {}): Promise<JsonResponse<any>> {
  const init: RequestInit = { method, headers: withAuth(headers) };
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

export interface SseEvent {
  readonly event: string;
  readonly data: any;
}

/** Opens an SSE POST and yields each event; abort the signal to disconnect. */
export async function* streamEvents(url: string, body: unknown, signal?: AbortSignal): AsyncGenerator<SseEvent> {
  const response = await fetch(url, {
    method: 'POST',
    headers: withAuth({ 'content-type': 'application/json', accept: 'text/event-stream' }),
    body: JSON.stringify(body),
    ...(signal === undefined ? {} : { signal }),
  });
  if (response.body === null) throw new Error(`no body, status ${response.status}`);
  if (!(response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    throw new Error(`not a stream: ${response.status} ${await response.text()}`);
  }
  for await (const message of parseSse(response.body)) {
    yield { event: message.event, data: JSON.parse(message.data) as unknown };
  }
}
