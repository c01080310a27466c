// The session commands: `sessions` (the list, one page), `session <id>`, `abort <id>`, `reset <id>`.
import type { Command } from '../command.js';
import { printJson, segment } from '../command.js';
import { integerOption } from '../args.js';
import { usageError } from '../cli-error.js';
import { NONE, formatAge, formatCost, formatCount, yesNo } from '../format.js';
import { formatTable } from '../table.js';
import { sessionState, type SessionList, type SessionView } from '../views.js';
import { usageTotals } from './usage.js';

import { SESSION_STATES } from '../../contracts/vocabulary.js';

export const sessionsCommand: Command = {
  name: 'sessions',
  usage: 'sessions',
  summary: 'list sessions (a page at a time on services with paging)',
  details: ['Reads GET /api/sessions. --state, --limit and --offset need a service that pages the list.'],
  options: [
    { name: 'state', value: 'S', help: `only sessions in state S: ${SESSION_STATES.join(', ')}` },
    { name: 'limit', value: 'N', help: 'at most N sessions' },
    { name: 'offset', value: 'M', help: 'skip the first M sessions' },
  ],
  arity: 0,
  needsToken: true,
  async run(context) {
    const state = context.options.get('state');
    if (state !== undefined && !(SESSION_STATES as readonly (string | true)[]).includes(state)) {
      throw usageError(`--state expects one of ${SESSION_STATES.join(', ')}, got ${JSON.stringify(state)}`);
    }
    const query = {
      state: state === true ? undefined : state,
      limit: integerOption(context.options, 'limit', 1),
      offset: integerOption(context.options, 'offset', 0),
    };
    const list = (await context.api.request('GET', '/api/sessions', query)) as SessionList;
    if (context.json) return printJson(context, list);
    const headers = ['ID', 'STATE', 'WORKSPACE', 'MESSAGES', 'PENDING', 'LAST ACTIVITY', 'TOKENS', 'COST'];
    const rows = list.sessions.map((session) => [
      session.id,
      sessionState(session),
      session.workspace ?? NONE,
      formatCount(session.messageCount),
      formatCount(session.pendingUserRequests),
      formatAge(session.lastActivity, context.now),
      formatCount(totalTokens(session)),
      formatCost(session.usage?.cost),
    ]);
    context.print(list.sessions.length === 0 ? 'no sessions' : formatTable(rows, { headers }));
    const footer = pageFooter(list);
    if (footer !== undefined) context.print(footer);
  },
};

export const sessionCommand: Command = {
  name: 'session',
  usage: 'session <id>',
  summary: 'one session in detail',
  details: ['Reads GET /api/sessions/<id>.'],
  options: [],
  arity: 1,
  needsToken: true,
  async run(context) {
    const session = (await context.api.request('GET', `/api/sessions/${segment(context.args[0] ?? '')}`)) as SessionView;
    if (context.json) return printJson(context, session);
    context.print(formatTable(sessionRows(session, context.now)));
  },
};

export const abortCommand: Command = {
  name: 'abort',
  usage: 'abort <id>',
  summary: "abort the session's running turn",
  details: ['Calls POST /api/sessions/<id>/abort. A session that runs no turn answers session_idle (exit 1).'],
  options: [],
  arity: 1,
  needsToken: true,
  async run(context) {
    const id = context.args[0] ?? '';
    const answer = await context.api.request('POST', `/api/sessions/${segment(id)}/abort`);
    if (context.json) return printJson(context, answer);
    context.print(`aborted the running turn of ${id}`);
  },
};

export const resetCommand: Command = {
  name: 'reset',
  usage: 'reset <id>',
  summary: 'start the session over with a new opencode conversation',
  details: ['Calls POST /api/sessions/<id>/reset and prints the session it answers.'],
  options: [],
  arity: 1,
  needsToken: true,
  async run(context) {
    const session = (await context.api.request('POST', `/api/sessions/${segment(context.args[0] ?? '')}/reset`)) as SessionView;
    if (context.json) return printJson(context, session);
    context.print(`reset ${session.id}`);
    context.print(formatTable(sessionRows(session, context.now)));
  },
};

export function sessionRows(session: SessionView, now: number): (string | number)[][] {
  const rows: (string | number)[][] = [
    ['id', session.id],
    ['state', sessionState(session)],
    ['workspace', session.workspace ?? NONE],
    ['opencode session', session.opencodeSessionId ?? NONE],
    ['messages', formatCount(session.messageCount)],
    ['pending requests', formatCount(session.pendingUserRequests)],
    ['waiting on user', yesNo(session.waitingOnUser)],
    ['created', formatAge(session.createdAt, now)],
    ['last activity', formatAge(session.lastActivity, now)],
  ];
  if (session.usage !== undefined) rows.push(['usage', usageTotals(session.usage)]);
  return rows;
}

function totalTokens(session: SessionView): number | undefined {
  const tokens = session.usage?.tokens;
  if (tokens === undefined) return undefined;
  return (tokens.input ?? 0) + (tokens.output ?? 0) + (tokens.reasoning ?? 0) + (tokens.cacheRead ?? 0) + (tokens.cacheWrite ?? 0);
}

/** `(sessions 1-20 of 57; next page: --offset 20)`, when the service pages the list. */
function pageFooter(list: SessionList): string | undefined {
  const parts: string[] = [];
  if (list.total !== undefined) {
    const first = (list.offset ?? 0) + 1;
    parts.push(list.sessions.length === 0 ? `sessions 0 of ${list.total}` : `sessions ${first}-${first + list.sessions.length - 1} of ${list.total}`);
  }
  if (list.nextOffset !== undefined) parts.push(`next page: --offset ${list.nextOffset}`);
  if (list.unreachableReplicas !== undefined && list.unreachableReplicas.length > 0) parts.push(`not answering: ${list.unreachableReplicas.join(', ')}`);
  return parts.length === 0 ? undefined : `(${parts.join('; ')})`;
}
