// The CLI's HTTP client: one JSON request to the service. A 4xx/5xx becomes a CliError with the
// service's own error code (exit 1); a connection failure or timeout, one with exit 3 that names the
// URL tried, where it came from, and how to point ocpm elsewhere.
import { errorMessage } from '../util/guards.js';
import { CliError, EXIT, oneLine, usageError } from './cli-error.js';

/** Long enough for an abort or a restart, which wait on the process they stop. */
const REQUEST_TIMEOUT_MS = 30_000;

export interface ApiClient {
  /** The parsed JSON answer of a 2xx (null for an empty body). `body` is sent as JSON. */
  request(method: 'GET' | 'POST', path: string, query?: Readonly<Record<string, string | number | undefined>>, body?: unknown): Promise<unknown>;
  /** Whether requests carry a token (one was found). */
  hasToken(): boolean;
}

/** Where the service's URL came from, for the error when nothing answers there. */
export type UrlSource = '--url' | 'OCPM_URL' | 'default';

export interface ApiClientOptions {
  readonly urlSource?: UrlSource;
  readonly timeoutMs?: number;
}

export function createApiClient(baseUrl: string, token: () => string | undefined, options: ApiClientOptions = {}): ApiClient {
  const base = parseBaseUrl(baseUrl);
  const timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
  return {
    hasToken: () => token() !== undefined,
    async request(method, path, query = {}, body = undefined) {
      const url = new URL(path.replace(/^\//, ''), base);
      for (const [name, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(name, String(value));
      const bearer = token();
      let response: Response;
      try {
        response = await fetch(url, {
          method,
          headers: {
            accept: 'application/json',
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            ...(bearer === undefined ? {} : { authorization: `Bearer ${bearer}` }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        throw unreachableError(base, options.urlSource, connectionReason(error, timeoutMs));
      }
      const text = await response.text();
      if (!response.ok) throw serviceError(response.status, text);
      if (text === '') return null;
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new CliError(EXIT.serviceError, `invalid_response: ${method} ${url.pathname} answered ${response.status} with a body that is not JSON`);
      }
    },
  };
}

/**
 * `cannot reach the service at http://127.0.0.1:3000 (the default URL): ECONNREFUSED, nothing listens
 * there; pass --url <url> or set OCPM_URL to the service's address`: the commonest cause is a service on
 * another port or host, so the error says which URL was tried and how to name another.
 */
function unreachableError(base: URL, source: UrlSource | undefined, reason: string): CliError {
  const shown = base.pathname === '/' ? base.origin : base.href.replace(/\/$/, '');
  const from = source === undefined ? '' : source === 'default' ? ' (the default URL)' : ` (from ${source})`;
  return new CliError(
    EXIT.unreachable,
    `cannot reach the service at ${shown}${from}: ${reason}; pass --url <url> or set the OCPM_URL environment variable to the service's address`,
  );
}

function parseBaseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw usageError(`--url expects an http(s) URL, got ${JSON.stringify(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(`--url expects an http(s) URL, got ${JSON.stringify(text)}`);
  // A base behind a path prefix (https://ops.example.com/ocpm) keeps it: paths are resolved under it.
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

/** What the usual connection failures mean, after their code. */
const CONNECTION_CODES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'nothing listens there',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'the host name does not resolve now',
  EHOSTUNREACH: 'no route to the host',
  ENETUNREACH: 'no route to the network',
  ECONNRESET: 'the connection was reset',
};

/** fetch hides the reason (ECONNREFUSED, ENOTFOUND, a timeout) in `cause`. */
function connectionReason(error: unknown, timeoutMs: number): string {
  if (error instanceof DOMException && error.name === 'TimeoutError') return `no answer in ${Math.round(timeoutMs / 1000)} s`;
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code;
  if (code !== undefined && CONNECTION_CODES[code] !== undefined) return `${code}, ${CONNECTION_CODES[code]}`;
  return oneLine(code ?? cause?.message ?? errorMessage(error));
}

/** `{ error: { code, message } }` is every error of the API; anything else (a proxy's page) is named by its status. */
function serviceError(status: number, body: string): CliError {
  try {
    const { error } = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
    if (typeof error?.code === 'string') {
      const message = oneLine(`${error.code}: ${typeof error.message === 'string' ? error.message : ''}`).replace(/: $/, '');
      return new CliError(EXIT.serviceError, message, error.code);
    }
  } catch {
    // not JSON: fall through
  }
  return new CliError(EXIT.serviceError, oneLine(`http_${status}: ${body.slice(0, 200) || 'no body'}`));
}
