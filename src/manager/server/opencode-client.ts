// A small typed client for the `opencode serve` routes the manager uses, on top of the official
// `@opencode-ai/sdk` (v2 entry, the same version as the binary): the SDK builds each call from its
// generated route table and types; this class keeps the manager's contract around it. Every request
// carries the instance's basic-auth password and is bounded by a timeout and/or the caller's
// AbortSignal (a server that is wedged keeps its port open and never answers: facts doc, traps 3 and
// 11), and by nothing else: `POST /session/{id}/message` blocks for the whole turn, longer than
// undici's default 300 s headers timeout. A non-2xx answer, or one that is not JSON (unknown routes
// answer 200 with the web UI's HTML, trap 7), is an OpencodeHttpError with the body as sent.
import { createOpencodeClient, type OpencodeClient as SdkClient } from '@opencode-ai/sdk/v2';
import { Agent } from 'undici';
import { messageAnswerOf, type MessageAnswer } from '../../opencode-wire/message.js';
import { isRecord } from '../../util/guards.js';

/** What the first prompt in a directory loads (measured with opencode 1.18.33: reading these ahead cut a first message sent 6 s after its session from 2.5–5.0 s to 1.3–1.6 s). */
const DIRECTORY_WARM_PATHS = ['/config', '/config/providers', '/agent', '/command', '/mcp', '/lsp', '/formatter', '/path', '/vcs'];
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

function combine(signal: AbortSignal | undefined, timeoutMs: number | undefined): AbortSignal | undefined {
  const signals = [signal, timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs)].filter((s): s is AbortSignal => s !== undefined);
  if (signals.length === 0) return undefined;
  return signals.length === 1 ? signals[0] : AbortSignal.any(signals);
}

/**
 * The connection pool of every client: no headers or body timeout of its own (undici's default cuts
 * a response after 300 s), since every call here carries its own bound. The event stream is not
 * sent through it (see openGlobalEvents).
 */
let unboundedDispatcher: Agent | undefined;

/**
 * The fetch the SDK calls: sends through the unbounded pool and turns a non-2xx or non-JSON answer
 * into an OpencodeHttpError (the SDK would hand back the parsed body without its text, and only
 * refuses an HTML answer whose content type is exactly `text/html`).
 */
async function checkedFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const request = input instanceof Request && init === undefined ? input : new Request(input, init);
  unboundedDispatcher ??= new Agent({ headersTimeout: 0, bodyTimeout: 0 });
  const response = await fetch(request, { dispatcher: unboundedDispatcher });
  const isJson = (response.headers.get('content-type') ?? '').includes('json');
  if (!response.ok || !isJson) throw new OpencodeHttpError(response.status, new URL(request.url).pathname, await response.text());
  return response;
}

/** The options of one SDK call: its bound, and errors thrown rather than returned. */
function callOptions(signal: AbortSignal | undefined): { signal?: AbortSignal; throwOnError: true } {
  return signal === undefined ? { throwOnError: true } : { signal, throwOnError: true };
}

export class OpencodeClient {
  private readonly authorization: string;
  private readonly sdk: SdkClient;

  constructor(
    readonly baseUrl: string,
    password: string,
    username = 'opencode',
  ) {
    this.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    // No client-wide `directory`: that would go as an `x-opencode-directory` header. One server serves
    // many directories, so each call passes its own, which the SDK sends as the `directory` query.
    this.sdk = createOpencodeClient({ baseUrl, headers: { authorization: this.authorization, accept: 'application/json' }, fetch: checkedFetch });
  }

  private url(path: string, query: Record<string, string> = {}): string {
    const url = new URL(path, this.baseUrl);
    for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
    return url.toString();
  }

  /**
   * Sends one request to a route the SDK does not cover; answers the parsed JSON (undefined for an
   * empty body), or throws OpencodeHttpError for a non-2xx/non-JSON answer.
   */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<unknown> {
    const signal = combine(options.signal, options.timeoutMs);
    const response = await checkedFetch(this.url(path, options.query), {
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
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  }

  async health(timeoutMs: number, signal?: AbortSignal): Promise<HealthAnswer> {
    const { data } = await this.sdk.global.health(callOptions(combine(signal, timeoutMs)));
    const body: unknown = data;
    if (!isRecord(body)) return { healthy: false, version: undefined };
    return { healthy: body.healthy === true, version: typeof body.version === 'string' ? body.version : undefined };
  }

  async createSession(directory: string, title: string, timeoutMs: number): Promise<string> {
    const { data } = await this.sdk.session.create({ directory, title }, callOptions(combine(undefined, timeoutMs)));
    const body: unknown = data;
    if (!isRecord(body) || typeof body.id !== 'string') throw new Error('opencode created a session without an id');
    return body.id;
  }

  /**
   * Blocks until the turn ends, bounded only by the caller's signal. A 200 is not success: the
   * caller checks info.error (trap 5).
   */
  async sendMessage(sessionId: string, directory: string, message: MessageBody, signal: AbortSignal): Promise<MessageAnswer> {
    const { data } = await this.sdk.session.prompt(
      {
        sessionID: sessionId,
        directory,
        parts: message.parts.map((part) => ({ ...part })),
        ...(message.model === undefined ? {} : { model: message.model }),
        ...(message.agent === undefined ? {} : { agent: message.agent }),
      },
      callOptions(signal),
    );
    const answer = messageAnswerOf(data);
    if (answer === undefined) throw new Error('opencode answered a message without info');
    return answer;
  }

  /** A conversation as `opencode export` prints it ({ info, messages: [{ info, parts }] }), read from the server. */
  async exportConversation(sessionId: string, directory: string, timeoutMs: number): Promise<{ info: unknown; messages: unknown }> {
    const path = `/session/${encodeURIComponent(sessionId)}`;
    const [info, messages] = await Promise.all([
      this.request('GET', path, { query: { directory }, timeoutMs }),
      this.request('GET', `${path}/message`, { query: { directory }, timeoutMs }),
    ]);
    if (!Array.isArray(messages)) throw new Error(`GET ${path}/message did not answer a list`);
    return { info, messages };
  }

  async abortSession(sessionId: string, directory: string, timeoutMs: number): Promise<void> {
    await this.sdk.session.abort({ sessionID: sessionId, directory }, callOptions(combine(undefined, timeoutMs)));
  }

  async deleteSession(sessionId: string, directory: string, timeoutMs: number): Promise<void> {
    await this.sdk.session.delete({ sessionID: sessionId, directory }, callOptions(combine(undefined, timeoutMs)));
  }

  async replyPermission(
    requestId: string,
    directory: string,
    reply: 'once' | 'always' | 'reject',
    message: string | undefined,
    timeoutMs: number,
  ): Promise<void> {
    await this.sdk.permission.reply(
      { requestID: requestId, directory, reply, ...(message === undefined ? {} : { message }) },
      callOptions(combine(undefined, timeoutMs)),
    );
  }

  async replyQuestion(requestId: string, directory: string, answers: readonly (readonly string[])[], timeoutMs: number): Promise<void> {
    await this.sdk.question.reply(
      { requestID: requestId, directory, answers: answers.map((labels) => [...labels]) },
      callOptions(combine(undefined, timeoutMs)),
    );
  }

  async rejectQuestion(requestId: string, directory: string, timeoutMs: number): Promise<void> {
    await this.sdk.question.reject({ requestID: requestId, directory }, callOptions(combine(undefined, timeoutMs)));
  }

  /** The permission requests opencode has pending for a directory, as `permission.asked` properties. */
  async listPermissions(directory: string, timeoutMs: number): Promise<unknown[]> {
    const { data } = await this.sdk.permission.list({ directory }, callOptions(combine(undefined, timeoutMs)));
    const body: unknown = data;
    return Array.isArray(body) ? (body as unknown[]) : [];
  }

  /** The questions opencode has pending for a directory, as `question.asked` properties. */
  async listQuestions(directory: string, timeoutMs: number): Promise<unknown[]> {
    const { data } = await this.sdk.question.list({ directory }, callOptions(combine(undefined, timeoutMs)));
    const body: unknown = data;
    return Array.isArray(body) ? (body as unknown[]) : [];
  }

  /** The status of each busy session of a directory (`idle` sessions may be left out). */
  async sessionStatus(directory: string, timeoutMs: number): Promise<Record<string, string>> {
    const { data } = await this.sdk.session.status({ directory }, callOptions(combine(undefined, timeoutMs)));
    const body: unknown = data;
    const statuses: Record<string, string> = {};
    if (!isRecord(body)) return statuses;
    for (const [id, value] of Object.entries(body)) {
      if (isRecord(value) && typeof value.type === 'string') statuses[id] = value.type;
    }
    return statuses;
  }

  async disposeDirectory(directory: string, timeoutMs: number): Promise<void> {
    await this.sdk.instance.dispose({ directory }, callOptions(combine(undefined, timeoutMs)));
  }

  /** GET /config/providers: the providers opencode can use and each one's default model (catalog). */
  async configProviders(timeoutMs: number, directory?: string): Promise<unknown> {
    const { data } = await this.sdk.config.providers(directory === undefined ? {} : { directory }, callOptions(combine(undefined, timeoutMs)));
    return data;
  }

  /**
   * Loads what a first prompt in `directory` would otherwise load while the user waits: the
   * directory's config, providers, agents, commands, MCP, LSP and formatter state, its path and VCS.
   * No model call, nothing in any conversation. Each read may fail: it only warms.
   */
  async warmDirectory(directory: string, timeoutMs: number): Promise<void> {
    await Promise.allSettled(DIRECTORY_WARM_PATHS.map((path) => this.request('GET', path, { query: { directory }, timeoutMs })));
  }

  /** GET /agent: the agents opencode knows (catalog). */
  async agents(timeoutMs: number, directory?: string): Promise<unknown> {
    const { data } = await this.sdk.app.agents(directory === undefined ? {} : { directory }, callOptions(combine(undefined, timeoutMs)));
    return data;
  }

  /** GET /config: the resolved opencode config (its `model` is the default model, when set). */
  async config(timeoutMs: number, directory?: string): Promise<unknown> {
    const { data } = await this.sdk.config.get(directory === undefined ? {} : { directory }, callOptions(combine(undefined, timeoutMs)));
    return data;
  }

  /**
   * Opens the instance's event stream of every directory (one upstream per instance). Raw fetch, not
   * the SDK: its `global.event()` parses the stream itself into an async generator that reconnects
   * on its own (backoff up to 30 s, forever by default) and reports a refused stream only to a
   * callback, while the hub parses the body and owns the reconnects. Left on undici's default body
   * timeout: a stream silent for 300 s is dropped and the hub reconnects.
   */
  async openGlobalEvents(signal: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    const response = await fetch(this.url('/global/event'), {
      headers: { authorization: this.authorization, accept: 'text/event-stream' },
      signal,
    });
    if (!response.ok || response.body === null) throw new OpencodeHttpError(response.status, '/global/event', await response.text());
    return response.body;
  }
}

export { HEALTH_FAILURE_CLASSES, type HealthFailureClass } from '../../contracts/vocabulary.js';
import type { HealthFailureClass } from '../../contracts/vocabulary.js';

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
