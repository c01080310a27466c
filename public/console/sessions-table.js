// The sessions table: what each column shows, the filter, the sort and the page. A view's `state` is
// one of the service's SESSION_STATES (./vocabulary.js); its `usage` may be missing.
import { badge } from './badges.js';
import { el, formatAgo, formatCost, formatNumber } from './dom.js';

export const PAGE_SIZE = 50;

/** The session's tokens of all five types (what OCPM_SESSION_TOKEN_BUDGET counts); undefined when the view has no usage. */
export function sessionTokens(session) {
  const tokens = session.usage?.tokens;
  if (tokens === undefined || tokens === null) return undefined;
  return (tokens.input ?? 0) + (tokens.output ?? 0) + (tokens.reasoning ?? 0) + (tokens.cacheRead ?? 0) + (tokens.cacheWrite ?? 0);
}

function sessionTurns(session) {
  return session.usage?.turns ?? session.messageCount;
}

const SORT_VALUES = {
  id: (s) => s.id,
  state: (s) => s.state,
  lastActivity: (s) => s.lastActivity ?? 0,
  turns: (s) => sessionTurns(s) ?? 0,
  tokens: (s) => sessionTokens(s) ?? -1,
  cost: (s) => s.usage?.cost ?? -1,
};

/** The rows of one page after filter and sort, with the counts the pager shows. */
export function pageOf(sessions, view) {
  const text = view.filter.trim().toLowerCase();
  const matching = sessions.filter(
    (s) =>
      (view.state === '' || s.state === view.state) &&
      (text === '' ||
        s.id.toLowerCase().includes(text) ||
        String(s.workspace ?? '')
          .toLowerCase()
          .includes(text)),
  );
  const value = SORT_VALUES[view.sort.key] ?? SORT_VALUES.lastActivity;
  const direction = view.sort.dir === 'asc' ? 1 : -1;
  matching.sort((a, b) => {
    const x = value(a);
    const y = value(b);
    const order = x < y ? -1 : x > y ? 1 : 0;
    return order === 0 ? a.id.localeCompare(b.id) : order * direction;
  });
  const pages = Math.max(1, Math.ceil(matching.length / PAGE_SIZE));
  const page = Math.min(view.page, pages - 1);
  return { rows: matching.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE), matching: matching.length, page, pages };
}

/** One row; `act(action, id)` runs an action after its confirmation. */
export function sessionRow(session, act, now) {
  const { state } = session;
  const tokens = sessionTokens(session);
  const breakdown = session.usage?.tokens;
  return el(
    'tr',
    { 'data-session-id': session.id, 'data-state': state },
    el('td', { class: 'mono', title: session.workspace }, session.id),
    el('td', { class: 'state' }, badge('SESSION_STATES', state)),
    el('td', { title: new Date(session.lastActivity).toISOString() }, formatAgo(session.lastActivity, now)),
    el('td', { class: 'num' }, formatNumber(sessionTurns(session))),
    el(
      'td',
      {
        class: 'num',
        title: breakdown
          ? `input ${breakdown.input}, output ${breakdown.output}, reasoning ${breakdown.reasoning}, cache read ${breakdown.cacheRead}, cache write ${breakdown.cacheWrite}`
          : undefined,
      },
      tokens === undefined ? '–' : formatNumber(tokens),
    ),
    el('td', { class: 'num' }, formatCost(session.usage?.cost)),
    el('td', { class: 'num' }, session.pendingUserRequests > 0 ? formatNumber(session.pendingUserRequests) : ''),
    el(
      'td',
      {},
      el(
        'div',
        { class: 'actions' },
        el('button', { type: 'button', 'data-action': 'abort', disabled: state === 'idle', onclick: () => act('abort', session.id) }, 'Abort'),
        el('button', { type: 'button', 'data-action': 'reset', onclick: () => act('reset', session.id) }, 'Reset'),
        el('button', { type: 'button', class: 'danger', 'data-action': 'delete', onclick: () => act('delete', session.id) }, 'Delete'),
      ),
    ),
  );
}
