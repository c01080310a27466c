// The pool commands: `instances` (server mode's opencode serve processes, from the status) and
// `restart-instance <name>`.
import { CliError, EXIT } from '../cli-error.js';
import type { Command } from '../command.js';
import { printJson, segment } from '../command.js';
import { NONE, formatAge, formatBytes, formatCount } from '../format.js';
import { formatTable } from '../table.js';
import type { InstanceView, StatusView } from '../views.js';

const HEADERS = ['ID', 'PID', 'STATE', 'STARTED', 'RESTARTS', 'RSS', 'ACTIVE TURNS', 'DIRECTORIES'];

export const instancesCommand: Command = {
  name: 'instances',
  usage: 'instances',
  summary: "server mode's opencode serve instances",
  details: [
    'Reads processManager.instances of GET /api/opencode/status, sending the API token (found as below);',
    'without one the service answers only its summary, which lists no instances. --json prints the whole status.',
  ],
  options: [],
  arity: 0,
  needsToken: false,
  async run(context) {
    const status = (await context.api.request('GET', '/api/opencode/status')) as StatusView;
    if (status.detail === 'summary') throw summaryError(context.api.hasToken());
    if (context.json) return printJson(context, status);
    const instances = status.processManager?.instances;
    if (instances === undefined) {
      context.print(`no instances: the service is not serving in server mode (mode ${status.processManager?.mode ?? NONE})`);
      return;
    }
    context.print(formatTable(instanceRows(instances, context.now), { headers: HEADERS }));
  },
};

/** The instances are in the full status only: say why there are none, as a missing or refused token is for other commands. */
function summaryError(sentToken: boolean): CliError {
  return sentToken
    ? new CliError(EXIT.serviceError, 'unauthorized: the service did not accept the API token (its status summary lists no instances)')
    : new CliError(EXIT.unreachable, 'no API token found: the status without one lists no instances; set OCPM_API_TOKEN or pass --token-file');
}

export const restartInstanceCommand: Command = {
  name: 'restart-instance',
  usage: 'restart-instance <name>',
  summary: 'restart one opencode serve instance of the pool',
  details: ['Calls POST /api/instances/<name>/restart (<name> is an ID from `ocpm instances`) and prints the instance it answers.'],
  options: [],
  arity: 1,
  needsToken: true,
  async run(context) {
    const instance = (await context.api.request('POST', `/api/instances/${segment(context.args[0] ?? '')}/restart`)) as InstanceView;
    if (context.json) return printJson(context, instance);
    context.print(formatTable(instanceRows([instance], context.now), { headers: HEADERS }));
  },
};

export function instanceRows(instances: readonly InstanceView[], now: number): (string | number)[][] {
  return instances.map((instance) => [
    instance.id,
    formatCount(instance.pid ?? undefined),
    instance.state ?? NONE,
    formatAge(instance.startedAt, now),
    formatCount(instance.restarts),
    formatBytes(instance.rssBytes),
    formatCount(instance.activeTurns),
    formatCount(instance.directories),
  ]);
}
