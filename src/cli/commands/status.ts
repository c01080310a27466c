// `ocpm status`: the manager's state and load at a glance (GET /api/opencode/status). It needs no
// token, but sends one when it finds one: without, the service answers only its summary.
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
  details: [
    'Reads GET /api/opencode/status. Works without a token: the service then answers its summary',
    '(state, mode, isolation, processes, streams), without sessions, turns, instances or usage;',
    'with the API token, found as below, it answers the full status.',
  ],
  options: [],
  arity: 0,
  needsToken: false,
  async run(context) {
    const status = (await context.api.request('GET', '/api/opencode/status')) as StatusView;
    if (context.json) return printJson(context, status);
    context.print(formatTable(statusRows(status)));
    if (status.detail === 'summary') context.print(summaryNote(context.api.hasToken()));
  },
};

/** Why the table is short: the service answered the status summary. */
export function summaryNote(sentToken: boolean): string {
  return sentToken
    ? '(summary only: the service did not accept the API token)'
    : '(summary only: no API token found; set OCPM_API_TOKEN or pass --token-file for the full status)';
}

export function statusRows(status: StatusView): (string | number)[][] {
  const full = status.detail !== 'summary';
  const mode = status.processManager?.mode ?? NONE;
  const instances = status.processManager?.instances;
  const isolation =
    status.isolation?.mechanism === undefined ? NONE : `${status.isolation.mechanism}${status.isolation.enforced === true ? ' (enforced)' : ''}`;
  const rows: (string | number)[][] = [
    ['state', status.state ?? NONE],
    ['mode', status.configuredMode ? `${mode} (configured: ${status.configuredMode})` : mode],
    ['draining', yesNo(status.draining)],
    ['isolation', isolation],
    ...(status.isolation?.protections === undefined ? [] : [['protections', status.isolation.protections.join(', ') || NONE]]),
    ...(status.isolation?.warnings ?? []).map((warning) => ['isolation warning', warning]),
    ['opencode version', status.version ?? NONE],
    ...(full
      ? [
          ['sessions', formatCount(status.sessions)],
          ['running turns', formatCount(status.runningTurns)],
          ['queued requests', formatCount(status.queuedRequests)],
          ['waiting on user', formatCount(status.sessionsWaitingOnUser)],
        ]
      : []),
    ['running processes', formatCount(status.runningProcesses)],
  ];
  if (status.unavailableReason) rows.push(['unavailable because', status.unavailableReason]);
  if (status.notReady && !status.draining) rows.push(['not ready', `${status.notReady.code ?? '?'}: ${status.notReady.message ?? ''}`]);
  if (status.replica !== undefined) rows.push(['replica', status.replica]);
  if (instances !== undefined) rows.push(['instances', instanceSummary(instances.map((instance) => instance.state ?? 'unknown'))]);
  if (status.usage !== undefined) rows.push(['usage', usageTotals(status.usage)]);
  rows.push(...gatewayRows(status.gateway));
  return rows;
}

/** The model gateway: off, or the providers it stands in for, and what it refused. */
function gatewayRows(gateway: StatusView['gateway']): (string | number)[][] {
  if (gateway === undefined) return [];
  if (gateway === null) return [['model gateway', 'off (opencode holds the provider keys)']];
  const providers = gateway.providers ?? [];
  return [
    ['model gateway', gateway.enabled === true ? `on: ${providers.length === 0 ? 'no provider' : providers.join(', ')}` : 'not listening'],
    ...(gateway.refused ?? []).map((refused) => ['refused provider', `${refused.id ?? '?'}: ${refused.reason ?? ''}`]),
    ...(gateway.configError ? [['opencode config', gateway.configError]] : []),
  ];
}

/** `3 (ready 2, backoff 1)` */
function instanceSummary(states: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const state of states) counts.set(state, (counts.get(state) ?? 0) + 1);
  const parts = [...counts].map(([state, count]) => `${state} ${count}`);
  return parts.length === 0 ? '0' : `${states.length} (${parts.join(', ')})`;
}
