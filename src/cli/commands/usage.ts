// `ocpm usage`: tokens, cost and turns per session (from the sessions list) and in total (the status's
// `usage`). Services before usage accounting send neither: the command says so instead of failing.
import type { Command, CommandContext } from '../command.js';
import { printJson } from '../command.js';
import { NONE, formatCost, formatCount } from '../format.js';
import { formatTable } from '../table.js';
import type { SessionList, SessionView, StatusView, Usage } from '../views.js';

/** Pages of the sessions list read at most (a service with paging answers a page at a time). */
const MAX_PAGES = 100;

export const usageCommand: Command = {
  name: 'usage',
  usage: 'usage',
  summary: 'tokens, cost and turns per session and in total',
  details: [
    'Per session from GET /api/sessions (every page), the total from GET /api/opencode/status.',
    'With --json: { "totals": <status usage or null>, "sessions": [ { "id", "usage" } ] }.',
  ],
  options: [],
  arity: 0,
  needsToken: true,
  async run(context) {
    const [status, sessions] = await Promise.all([context.api.request('GET', '/api/opencode/status') as Promise<StatusView>, allSessions(context)]);
    const totals = status.usage ?? null;
    if (context.json) {
      return printJson(context, { totals, sessions: sessions.map((session) => ({ id: session.id, usage: session.usage ?? null })) });
    }
    const headers = ['SESSION', 'INPUT', 'OUTPUT', 'REASONING', 'CACHE READ', 'CACHE WRITE', 'COST', 'TURNS'];
    const rows = sessions.map((session) => [session.id, ...usageCells(session.usage)]);
    if (totals !== null) rows.push(['TOTAL', ...usageCells(totals)]);
    context.print(formatTable(rows, { headers }));
    if (sessions.length > 0 && sessions.every((session) => session.usage === undefined)) {
      context.print('(this service reports no per-session usage)');
    }
    if (totals === null) context.print('(this service reports no usage totals)');
  },
};

/** Every session, page after page (a service without paging answers them all at once). */
export async function allSessions(context: CommandContext): Promise<SessionView[]> {
  const sessions: SessionView[] = [];
  let offset: number | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const list = (await context.api.request('GET', '/api/sessions', offset === undefined ? {} : { offset })) as SessionList;
    sessions.push(...list.sessions);
    if (list.nextOffset === undefined || list.nextOffset === offset) break;
    offset = list.nextOffset;
  }
  return sessions;
}

export function usageCells(usage: Usage | undefined): (string | number)[] {
  if (usage === undefined) return [NONE, NONE, NONE, NONE, NONE, NONE, NONE];
  const tokens = usage.tokens ?? {};
  return [
    formatCount(tokens.input),
    formatCount(tokens.output),
    formatCount(tokens.reasoning),
    formatCount(tokens.cacheRead),
    formatCount(tokens.cacheWrite),
    formatCost(usage.cost),
    formatCount(usage.turns),
  ];
}

/** One line for the status listing: `in 1535, out 4, reasoning 0, cache 0/0, $0.0010, 3 turns`. */
export function usageTotals(usage: Usage): string {
  const tokens = usage.tokens ?? {};
  const n = (value: number | undefined): string => String(formatCount(value));
  return `in ${n(tokens.input)}, out ${n(tokens.output)}, reasoning ${n(tokens.reasoning)}, cache ${n(tokens.cacheRead)}/${n(tokens.cacheWrite)}, ${formatCost(usage.cost)}, ${n(usage.turns)} turns`;
}
