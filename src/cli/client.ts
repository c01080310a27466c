// The CLI's HTTP client: one JSON request to the service. A 4xx/5xx becomes a CliError with the
// service's own error code (exit 1); a connection failure or timeout, one with exit 3.
import { CliError, EXIT, oneLine, usageError } from './cli-error.js';

/** Long enough for an abort or a restart, which wait on the process they stop. */
const REQUEST_TIMEOUT_MS = 30_000;

export interface ApiClient {
  /** The parsed JSON answer of a 2xx (null for an empty body). */
  request(method: 'GET' | 'POST', path: string, query?: Readonly<Record<string, string | number | undefined>>): Promise<unknown>;
  /** Whether requests carry a token (one was found). */
  hasToken(): boolean;
}

export function createApiClient(baseUrl: string, token: () => string | undefined, timeoutMs = REQUEST_TIMEOUT_MS): ApiClient {
  const base = parseBaseUrl(baseUrl);
  return {
    hasToken: () => token() !== undefined,
    async request(method, path, query = {}) {
      const url = new URL(path.replace(/^\//, ''), base);
      for (const [name, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(name, String(value));
      const bearer = token();
      let response: Response;
      try {
        response = await fetch(url, {
          method,
          headers: { accept: 'application/json', ...(bearer === undefined ? {} : { authorization: `Bearer ${bearer}` }) },
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        throw new CliError(EXIT.unreachable, `cannot reach ${base.origin}: ${connectionReason(error)}`);
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

/** fetch hides the reason (ECONNREFUSED, ENOTFOUND, a timeout) in `cause`. */
function connectionReason(error: unknown): string {
  if (error instanceof DOMException && error.name === 'TimeoutError') return 'no answer in time';
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return oneLine(cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error)));
}

/** `{ error: { code, message } }` is every error of the API; anything else (a proxy's page) is named by its status. */
function serviceError(status: number, body: string): CliError {
  try {
    const { error } = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
    if (typeof error?.code === 'string') {
      return new CliError(EXIT.serviceError, oneLine(`${error.code}: ${typeof error.message === 'string' ? error.message : ''}`).replace(/: $/, ''));
    }
  } catch {
    // not JSON: fall through
  }
  return new CliError(EXIT.serviceError, oneLine(`http_${status}: ${body.slice(0, 200) || 'no body'}`));
}
