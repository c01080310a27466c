// Replica-to-replica calls on /internal/v1: who a peer is and what state it is in, whether it holds a
// session, a session handed over, and "I left". Every call carries the peer token and this
// replica's name, and is bounded by a timeout.
import { errorMessage } from '../util/guards.js';

/** What a peer says about itself. `left`: it handed every session away and holds none. */
export interface PeerIdentity {
  readonly replica: string;
  /** Its process's id (a new one at each start); absent from a replica of an older version. */
  readonly bootId?: string;
  readonly state: string;
  readonly left: boolean;
  readonly sessions: number;
}

/** A call that got no usable answer: the peer is unreachable (`status` undefined) or refused it. */
export class PeerCallError extends Error {
  override readonly name = 'PeerCallError';
  constructor(
    readonly url: string,
    message: string,
    readonly status?: number,
  ) {
    super(`${url}: ${message}`);
  }
}

export const PEER_HEADER = 'x-ocpm-peer';

export class PeerClient {
  constructor(
    private readonly options: {
      /** This replica's name, sent on every call. */
      readonly self: string;
      /** The bearer token peers accept; undefined when the API needs none (OCPM_AUTH=disabled). */
      readonly token: () => string | undefined;
      readonly timeoutMs: number;
    },
  ) {}

  async identity(url: string): Promise<PeerIdentity> {
    const { status, body } = await this.call(url, 'GET', '/internal/v1/replica');
    if (status !== 200) throw new PeerCallError(url, `answered ${status}`, status);
    return body as PeerIdentity;
  }

  /** Whether the peer holds the session (true), or not (false). */
  async holds(url: string, sessionId: string): Promise<boolean> {
    const { status } = await this.call(url, 'GET', `/internal/v1/sessions/${encodeURIComponent(sessionId)}`);
    if (status === 200) return true;
    if (status === 404) return false;
    throw new PeerCallError(url, `answered ${status}`, status);
  }

  /** The sessions the peer holds (their views, as GET /api/sessions shows them). */
  async sessions(url: string): Promise<unknown[]> {
    const { status, body } = await this.call(url, 'GET', '/internal/v1/sessions');
    if (status !== 200 || typeof body !== 'object' || body === null || !Array.isArray((body as { sessions?: unknown }).sessions)) {
      throw new PeerCallError(url, `answered ${status}`, status);
    }
    return (body as { sessions: unknown[] }).sessions;
  }

  /** Gives the peer a session (record, history, conversation); throws unless it took it. */
  async handOff(url: string, sessionId: string, transfer: unknown, timeoutMs: number): Promise<void> {
    const { status, body } = await this.call(url, 'POST', `/internal/v1/sessions/${encodeURIComponent(sessionId)}/handoff`, transfer, timeoutMs);
    if (status !== 200) throw new PeerCallError(url, `refused the handoff (${status} ${JSON.stringify(body)})`, status);
  }

  /** Tells the peer this replica left (it holds no session any more). */
  async left(url: string): Promise<void> {
    await this.call(url, 'POST', '/internal/v1/peers/left', { replica: this.options.self });
  }

  private async call(
    url: string,
    method: string,
    path: string,
    body?: unknown,
    timeoutMs = this.options.timeoutMs,
  ): Promise<{ status: number; body: unknown }> {
    const token = this.options.token();
    const headers: Record<string, string> = { [PEER_HEADER]: this.options.self, accept: 'application/json' };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${url}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : undefined;
      throw new PeerCallError(url, cause ?? errorMessage(error));
    }
    const text = await response.text().catch(() => '');
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // Not JSON (a proxy's error page): kept as text for the error message.
    }
    return { status: response.status, body: parsed };
  }
}
