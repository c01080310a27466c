// A small typed client for the `opencode serve` routes the manager uses. Every request carries the
// instance's basic-auth password and is bounded by a timeout and/or the caller's AbortSignal
// (a server that is wedged keeps its port open and never answers: facts doc, traps 3 and 11).

export class OpencodeHttpError extends Error {
  override readonly name = 'OpencodeHttpError';
  constructor(
    readonly status: number,
    readonly path: string,
    readonly bodyText: string,
  ) {
    super(`opencode answered ${status} to ${path}: ${bodyText.slice(0, 300)}`);
  }
}

export interface RequestOptions {
  readonly query?: Record<string, string>;
  readonly body?: unknown;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface HealthAnswer {
  readonly healthy: boolean;
  readonly version: string | undefined;
}

export interface MessageBody {
  readonly parts: ReadonlyArray<{ type: 'text'; text: string }>;
  readonly model?: { providerID: string; modelID: string };
  readonly agent?: string;
}

export interface MessageAnswer {
  readonly info: Record<string, unknown>;
  readonly parts: ReadonlyArray<Record<string, unknown>>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function combine(signal: AbortSignal | undefined, timeoutMs: number | undefined): AbortSignal | undefined {
  const signals = [signal, timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs)].filter((s): s is AbortSignal => s !== undefined);
  if (signals.length === 0) return undefined;
  return signals.length === 1 ? signals[0] : AbortSignal.any(signals);
}

export class OpencodeClient {
  private readonly authorization: string;

  constructor(
    readonly baseUrl: string,
    password: string,
    username = 'opencode',
  ) {
    this.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }

  private url(path: string, query: Record<string, string> = {}): string {
    const url = new URL(path, this.baseUrl);
    for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
    return url.toString();
  }

  /** Sends one request; answers the parsed JSON, or throws OpencodeHttpError for a non-2xx/non-JSON answer. */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<unknown> {
    const signal = combine(options.signal, options.timeoutMs);
    const response = await fetch(this.url(path, options.query), {
      method,
      headers: {
        authorization: this.authorization,
        accept: 'application/json',
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      ...(signal === undefined ? {} : { signal }),
    });
    const text = await response.text();
    // Unknown routes answer 200 text/html (the web UI, trap 7): only JSON counts as an answer.
    const isJson = (response.headers.get('content-type') ?? '').includes('json');
    if (!response.ok || !isJson) throw new OpencodeHttpError(response.status, path, text);
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  }

  async health(timeoutMs: number, signal?: AbortSignal): Promise<HealthAnswer> {
    const body = await this.request('GET', '/global/health', { timeoutMs, ...(signal === undefined ? {} : { signal }) });
    if (!isRecord(body)) return { healthy: false, version: undefined };
    return { healthy: body.healthy === true, version: typeof body.version === 'string' ? body.version : undefined };
  }

  async createSession(directory: string, title: string, timeoutMs: number): Promise<string> {
    const body = await this.request('POST', '/session', { query: { directory }, body: { title }, timeoutMs });
    if (!isRecord(body) || typeof body.id !== 'string') throw new Error('opencode created a session without an id');
    return body.id;
  }

  /** Blocks until the turn ends. A 200 is not success: the caller checks info.error (trap 5). */
  async sendMessage(sessionId: string, directory: string, message: MessageBody, signal: AbortSignal): Promise<MessageAnswer> {
    const body = await this.request('POST', `/session/${encodeURIComponent(sessionId)}/message`, { query: { directory }, body: message, signal });
    if (!isRecord(body) || !isRecord(body.info)) throw new Error('opencode answered a message without info');
    const parts = Array.isArray(body.parts) ? body.parts.filter(isRecord) : [];
    return { info: body.info, parts };
  }

  async abortSession(sessionId: string, directory: string, timeoutMs: number): Promise<void> {
    await this.request('POST', `/session/${encodeURIComponent(sessionId)}/abort`, { query: { directory }, timeoutMs });
  }

  async deleteSession(sessionId: string, directory: string, timeoutMs: number): Promise<void> {
    await this.request('DELETE', `/session/${encodeURIComponent(sessionId)}`, { query: { directory }, timeoutMs });
  }

  async replyPermission(
    requestId: string,
    directory: string,
    reply: 'once' | 'always' | 'reject',
    message: string | undefined,
    timeoutMs: number,
  ): Promise<void> {
    const body = message === undefined ? { reply } : { reply, message };
    await this.request('POST', `/permission/${encodeURIComponent(requestId)}/reply`, { query: { directory }, body, timeoutMs });
  }

  async replyQuestion(requestId: string, directory: string, answers: readonly (readonly string[])[], timeoutMs: number): Promise<void> {
    await this.request('POST', `/question/${encodeURIComponent(requestId)}/reply`, { query: { directory }, body: { answers }, timeoutMs });
  }

  async rejectQuestion(requestId: string, directory: string, timeoutMs: number): Promise<void> {
    await this.request('POST', `/question/${encodeURIComponent(requestId)}/reject`, { query: { directory }, timeoutMs });
  }

  /** The status of each busy session of a directory (`idle` sessions may be left out). */
  async sessionStatus(directory: string, timeoutMs: number): Promise<Record<string, string>> {
    const body = await this.request('GET', '/session/status', { query: { directory }, timeoutMs });
    const statuses: Record<string, string> = {};
    if (!isRecord(body)) return statuses;
    for (const [id, value] of Object.entries(body)) {
      if (isRecord(value) && typeof value.type === 'string') statuses[id] = value.type;
    }
    return statuses;
  }

  async disposeDirectory(directory: string, timeoutMs: number): Promise<void> {
    await this.request('POST', '/instance/dispose', { query: { directory }, timeoutMs });
  }

  /** GET /config/providers: the providers opencode can use and each one's default model (catalog). */
  async configProviders(timeoutMs: number, directory?: string): Promise<unknown> {
    return this.request('GET', '/config/providers', { ...(directory === undefined ? {} : { query: { directory } }), timeoutMs });
  }

  /** GET /agent: the agents opencode knows (catalog). */
  async agents(timeoutMs: number, directory?: string): Promise<unknown> {
    return this.request('GET', '/agent', { ...(directory === undefined ? {} : { query: { directory } }), timeoutMs });
  }

  /** GET /config: the resolved opencode config (its `model` is the default model, when set). */
  async config(timeoutMs: number, directory?: string): Promise<unknown> {
    return this.request('GET', '/config', { ...(directory === undefined ? {} : { query: { directory } }), timeoutMs });
  }

  /** Opens the instance's event stream of every directory (one upstream per instance). */
  async openGlobalEvents(signal: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    const response = await fetch(this.url('/global/event'), {
      headers: { authorization: this.authorization, accept: 'text/event-stream' },
      signal,
    });
    if (!response.ok || response.body === null) throw new OpencodeHttpError(response.status, '/global/event', await response.text());
    return response.body;
  }
}

/** Classifies a failed health check for metrics: timeout, refused (nothing listening), bad_status. */
export const HEALTH_FAILURE_CLASSES = ['timeout', 'refused', 'bad_status', 'error'] as const;
export type HealthFailureClass = (typeof HEALTH_FAILURE_CLASSES)[number];

export function classifyHealthFailure(error: unknown): HealthFailureClass {
  if (error instanceof OpencodeHttpError) return 'bad_status';
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return 'timeout';
  const cause: unknown = error instanceof Error ? error.cause : undefined;
  const code = isRecord(cause) && typeof cause.code === 'string' ? cause.code : undefined;
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'refused';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') return 'timeout';
  return 'error';
}

/**
 * True when the request never got a connection, so nothing reached opencode and the message may be
 * sent elsewhere: refused (nothing listening), or reset during the connect itself (a dying server's
 * backlog is reset, and Node reports that as `connect ECONNRESET`). A reset after the connect is not
 * this: opencode may have taken the message by then.
 */
export function neverConnected(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 4; current = current.cause, depth += 1) {
    const code = 'code' in current ? current.code : undefined;
    const syscall = 'syscall' in current ? current.syscall : undefined;
    if (code === 'ECONNREFUSED' || (code === 'ECONNRESET' && syscall === 'connect')) return true;
  }
  return false;
}
