// The token the operator pasted (kept in this tab's sessionStorage only) and the action calls.

const TOKEN_KEY = 'ocpm-console-token';

export const tokenStore = {
  get() {
    return sessionStorage.getItem(TOKEN_KEY) ?? '';
  },
  set(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

/**
 * One API call with the token. Resolves with { ok, status, body } whatever the status; errors are
 * the API's `{ error: { code, message } }`.
 */
export async function callApi(method, path, token) {
  const response = await fetch(path, { method, headers: { authorization: `Bearer ${token}` }, cache: 'no-store' });
  const text = await response.text();
  let body = text;
  if ((response.headers.get('content-type') ?? '').includes('json') && text !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  return { ok: response.ok, status: response.status, body };
}

/** The operator's actions: what each calls, and how it is asked and reported. */
export const ACTIONS = {
  abort: { method: 'POST', path: (id) => `/api/sessions/${encodeURIComponent(id)}/abort`, verb: 'Abort the running turn of session' },
  reset: { method: 'POST', path: (id) => `/api/sessions/${encodeURIComponent(id)}/reset`, verb: 'Reset (abort and start a new conversation for) session' },
  delete: { method: 'DELETE', path: (id) => `/api/sessions/${encodeURIComponent(id)}`, verb: 'Delete session' },
  restart: { method: 'POST', path: (id) => `/api/instances/${encodeURIComponent(id)}/restart`, verb: 'Restart server instance' },
};
