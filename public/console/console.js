// The operator console: connects to GET /api/events with the pasted token, keeps the service's state
// as the stream tells it, and renders it; actions ask for a confirmation, then call the API.
import { ACTIONS, callApi, tokenStore } from './api.js';
import { wordLabel } from './badges.js';
import { byId, el, formatNumber } from './dom.js';
import { instanceRow, pendingRows, summaryNode, turnRow } from './panels.js';
import { patchRows } from './patch.js';
import { pageOf, sessionRow } from './sessions-table.js';
import { readEventStream } from './sse-reader.js';
import { SESSION_STATES } from './vocabulary.js';

/** As many as the service sends (RECENT_TURNS in src/http/routes/events.ts). */
const RECENT_TURNS = 50;
const REFUSED = 'The token was refused (401). Check it (OCPM_API_TOKEN, or data/api-token) and paste it again.';

const state = {
  status: null,
  sessions: new Map(),
  turns: new Map(),
  pending: { permissions: [], questions: [] },
  view: { filter: '', state: '', sort: { key: 'lastActivity', dir: 'desc' }, page: 0 },
};

let stream; // the AbortController of the open stream
let retryTimer;
let retryDelayMs = 1000;
let renderQueued = false;

// --- the stream -------------------------------------------------------------------------------

const APPLY = {
  snapshot(data) {
    state.status = data.status;
    state.sessions = new Map(data.sessions.map((s) => [s.id, s]));
    state.turns = new Map(data.recentTurns.map((t) => [t.id, t]));
    state.pending = data.pending;
    retryDelayMs = 1000;
    setConnection('live', 'live');
    showDashboard();
  },
  status(data) {
    state.status = data;
  },
  sessions(data) {
    for (const view of data.upserted) state.sessions.set(view.id, view);
    for (const id of data.removed) state.sessions.delete(id);
  },
  turns(data) {
    for (const turn of data.upserted) state.turns.set(turn.id, turn);
    const keep = [...state.turns.keys()].sort((a, b) => b - a).slice(0, RECENT_TURNS);
    state.turns = new Map(keep.map((id) => [id, state.turns.get(id)]));
  },
  pending(data) {
    state.pending = data;
  },
};

function onEvent({ event, data }) {
  const apply = APPLY[event];
  if (apply === undefined) return;
  apply(JSON.parse(data));
  scheduleRender();
}

async function connect(token) {
  stream?.abort();
  clearTimeout(retryTimer);
  const controller = new AbortController();
  stream = controller;
  setConnection('connecting', 'connecting…');
  try {
    await readEventStream('/api/events', token, onEvent, controller.signal);
    if (!controller.signal.aborted) reconnectLater(token, 'the stream ended');
  } catch (error) {
    if (controller.signal.aborted) return;
    if (error.status === 401) {
      tokenStore.clear();
      showLogin(REFUSED);
      return;
    }
    const reason = error.error ? `${error.error.code}: ${error.error.message}` : (error.message ?? String(error));
    if (state.status === null) showLogin(`Could not connect: ${reason}. Retrying…`, true);
    reconnectLater(token, reason);
  }
}

function reconnectLater(token, reason) {
  setConnection('reconnecting', `reconnecting (${reason})`);
  retryTimer = setTimeout(() => void connect(token), retryDelayMs);
  retryDelayMs = Math.min(retryDelayMs * 2, 15000);
}

function disconnect() {
  stream?.abort();
  clearTimeout(retryTimer);
  stream = undefined;
}

// --- what is shown ----------------------------------------------------------------------------

function setConnection(name, text) {
  const node = byId('connection');
  node.dataset.state = name;
  node.textContent = text;
}

function showLogin(message, keepToken = false) {
  if (!keepToken) disconnect();
  byId('dashboard').hidden = true;
  byId('disconnect').hidden = true;
  byId('login').hidden = false;
  const note = byId('login-message');
  note.hidden = message === undefined;
  note.textContent = message ?? '';
  if (!keepToken) setConnection('offline', 'offline');
  byId('token').focus();
}

function showDashboard() {
  byId('login').hidden = true;
  byId('login-message').hidden = true;
  byId('dashboard').hidden = false;
  byId('disconnect').hidden = false;
}

function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    render();
  });
}

function render() {
  if (state.status === null) return;
  const now = Date.now();
  byId('summary').replaceChildren(...summaryNode(state.status));

  const instances = state.status.processManager?.instances ?? [];
  byId('instances-empty').hidden = instances.length > 0;
  byId('instances').hidden = instances.length === 0;
  patchRows(
    byId('instances').tBodies[0],
    instances.map((i) => instanceRow(i, act, now)),
    (row) => row.dataset.instanceId,
  );

  const sessions = [...state.sessions.values()];
  const page = pageOf(sessions, state.view);
  state.view.page = page.page;
  byId('session-count').textContent = `${formatNumber(page.matching)} of ${formatNumber(sessions.length)}`;
  byId('page-info').textContent = `page ${page.page + 1} of ${page.pages}`;
  byId('prev-page').disabled = page.page === 0;
  byId('next-page').disabled = page.page >= page.pages - 1;
  patchRows(
    byId('sessions').tBodies[0],
    page.rows.map((s) => sessionRow(s, act, now)),
    (row) => row.dataset.sessionId,
  );
  for (const button of document.querySelectorAll('#sessions th button[data-sort]')) {
    const sorted = button.dataset.sort === state.view.sort.key;
    button.parentElement.setAttribute('aria-sort', sorted ? (state.view.sort.dir === 'asc' ? 'ascending' : 'descending') : 'none');
  }

  const turns = [...state.turns.values()].sort((a, b) => b.id - a.id);
  patchRows(
    byId('turns').tBodies[0],
    turns.map((t) => turnRow(t, now)),
    (row) => row.dataset.turnId,
  );

  const pending = pendingRows(state.pending);
  byId('pending-empty').hidden = pending.length > 0;
  byId('pending').hidden = pending.length === 0;
  patchRows(byId('pending').tBodies[0], pending, (row) => `${row.dataset.kind}:${row.dataset.requestId}`);
}

// --- actions ----------------------------------------------------------------------------------

/** Resolves true when the operator confirms, in the page's own dialog. */
function confirmAction(text) {
  const dialog = byId('confirm-dialog');
  byId('confirm-text').textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'yes'), { once: true });
    dialog.returnValue = '';
    dialog.showModal();
    byId('confirm-no').focus();
  });
}

function report(text, ok) {
  const node = byId('action-result');
  node.hidden = false;
  node.dataset.outcome = ok ? 'ok' : 'error';
  node.textContent = text;
}

async function act(action, id) {
  const spec = ACTIONS[action];
  if (!(await confirmAction(`${spec.verb} ${id}?`))) return;
  const token = tokenStore.get();
  try {
    const result = await callApi(spec.method, spec.path(id), token);
    if (result.status === 401) {
      tokenStore.clear();
      showLogin(REFUSED);
      return;
    }
    if (result.ok) report(`${action} ${id}: done (HTTP ${result.status})`, true);
    else {
      const error = typeof result.body === 'object' && result.body !== null ? result.body.error : undefined;
      report(`${action} ${id} failed (HTTP ${result.status}): ${error ? `${error.code}: ${error.message}` : String(result.body).slice(0, 200)}`, false);
    }
  } catch (error) {
    report(`${action} ${id} failed: ${error.message ?? String(error)}`, false);
  }
}

// --- wiring -----------------------------------------------------------------------------------

function wire() {
  byId('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const token = byId('token').value.trim();
    if (token === '') return;
    tokenStore.set(token);
    byId('token').value = '';
    byId('login-message').hidden = true;
    void connect(token);
  });
  byId('disconnect').addEventListener('click', () => {
    tokenStore.clear();
    state.status = null;
    showLogin();
  });
  byId('session-filter').addEventListener('input', (event) => {
    state.view.filter = event.target.value;
    state.view.page = 0;
    scheduleRender();
  });
  // The filter's states are the service's (after the page's own "all states").
  byId('state-filter').append(...SESSION_STATES.map((state) => el('option', { value: state }, wordLabel(state))));
  byId('state-filter').addEventListener('change', (event) => {
    state.view.state = event.target.value;
    state.view.page = 0;
    scheduleRender();
  });
  byId('prev-page').addEventListener('click', () => {
    state.view.page = Math.max(0, state.view.page - 1);
    scheduleRender();
  });
  byId('next-page').addEventListener('click', () => {
    state.view.page += 1;
    scheduleRender();
  });
  for (const button of document.querySelectorAll('#sessions th button[data-sort]')) {
    button.addEventListener('click', () => {
      const key = button.dataset.sort;
      const { sort } = state.view;
      // A new column sorts ascending first; a second click on it reverses.
      state.view.sort = { key, dir: sort.key === key && sort.dir === 'asc' ? 'desc' : 'asc' };
      state.view.page = 0;
      scheduleRender();
    });
  }
  // Relative times ("12 s ago", uptimes) move even when the service sends nothing.
  setInterval(() => {
    if (state.status !== null && document.visibilityState === 'visible') scheduleRender();
  }, 5000);
}

wire();
const saved = tokenStore.get();
if (saved === '') showLogin();
else void connect(saved);
