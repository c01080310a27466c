// `ocpm status`: the manager's state and load at a glance (GET /api/opencode/status, no token needed).
import type { Command } from '../command.js';
import { printJson } from '../command.js';
import { NONE, formatCount, yesNo } from '../format.js';
import { formatTable } from '../table.js';
import { usageTotals } from './usage.js';
import type { StatusView } from '../views.js';

export const statusCommand: Command = {
  name: 'status',
  usage: 'status',
  summary: "the manager's state, mode, load and pool",
  details: ['Reads GET /api/opencode/status (no token needed).'],
  options: [],
  arity: 0,
  needsToken: false,
  async run(context) {
    const status = (await context.api.request('GET', '/api/opencode/status')) as StatusView;
    if (context.json) return printJson(context, status);
    context.print(formatTable(statusRows(status)));
  },
};

export function statusRows(status: StatusView): (string | number)[][] {
  const mode = status.processManager?.mode ?? NONE;
  const instances = status.processManager?.instances;
  const isolation =
    status.isolation?.mechanism === undefined ? NONE : `${status.isolation.mechanism}${status.isolation.enforced === true ? ' (enforced)' : ''}`;
  const rows: (string | number)[][] = [
    ['state', status.state ?? NONE],
    ['mode', status.configuredMode ? `${mode} (configured: ${status.configuredMode})` : mode],
    ['draining', yesNo(status.draining)],
    ['isolation', isolation],
    ['opencode version', status.version ?? NONE],
    ['sessions', formatCount(status.sessions)],
    ['running turns', formatCount(status.runningTurns)],
    ['queued requests', formatCount(status.queuedRequests)],
    ['waiting on user', formatCount(status.sessionsWaitingOnUser)],
    ['running processes', formatCount(status.runningProcesses)],
  ];
  if (status.unavailableReason) rows.push(['unavailable because', status.unavailableReason]);
  if (status.replica !== undefined) rows.push(['replica', status.replica]);
  if (instances !== undefined) rows.push(['instances', instanceSummary(instances.map((instance) => instance.state ?? 'unknown'))]);
  if (status.usage !== undefined) rows.push(['usage', usageTotals(status.usage)]);
  return rows;
}

/** `3 (ready 2, backoff 1)` */
function instanceSummary(states: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const state of states) counts.set(state, (counts.get(state) ?? 0) + 1);
  const parts = [...counts].map(([state, count]) => `${state} ${count}`);
  return parts.length === 0 ? '0' : `${states.length} (${parts.join(', ')})`;
}
