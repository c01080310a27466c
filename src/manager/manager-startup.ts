// Bringing the manager up and down: the model gateway listens before any opencode starts (every
// child's configuration points at it), boot finds opencode and chooses the placement; a drain takes
// no new messages and lets accepted ones finish; a stop ends every turn, server and child.
import { errorMessage } from '../util/guards.js';
import { boot } from './boot.js';
import { gatewayHost } from './gateway-host.js';
import type { ManagerCore } from './manager-core.js';
import type { TurnAdmission } from './turn-admission.js';

/** What boot's placement asks of the turns: whether a session runs, queues or waits on a person now. */
export interface TurnActivity {
  readonly sessionInUse: (sessionId: string) => boolean;
}

export async function startManager(core: ManagerCore, activity: TurnActivity): Promise<void> {
  const { lifecycle, logger } = core;
  lifecycle.enter('starting');
  logger.info('Initializing OpenCode process manager...');
  await startGateway(core);
  const runtime = await boot(core, activity.sessionInUse);
  if (runtime === undefined) return;
  core.binary = runtime.binary;
  core.placement = runtime.placement;
  lifecycle.enter('ready');
}

async function startGateway(core: ManagerCore): Promise<void> {
  const { gateway } = core;
  if (gateway === undefined) return;
  try {
    await gateway.start(gatewayHost(core));
  } catch (error) {
    // Without it no child gets a provider: messages fail with no_provider rather than leak a key.
    core.logger.error('The model gateway could not listen; opencode gets no model provider', { error: errorMessage(error) });
    return;
  }
  core.childEnv = { ...core.childEnv, ...gateway.baseEnv() };
}

/** Aborts every turn, stops the servers, ends every child and its descendants, and waits. */
export async function stopManager(core: ManagerCore, admission: TurnAdmission): Promise<void> {
  const { lifecycle, children, registry, logger } = core;
  if (lifecycle.state === 'stopped' || lifecycle.state === 'stopping') return;
  lifecycle.enter('stopping');
  const reason = 'the service is shutting down';
  await Promise.allSettled([admission.abortAll(reason), children.stopAll(new Error(reason))]);
  await core.placement.stop();
  await core.gateway?.stop();
  registry.close();
  lifecycle.enter('stopped');
  logger.info('OpenCode process manager stopped');
}

/**
 * Graceful shutdown, first step: take no new messages (503 `draining`, /readyz 503), give accepted
 * ones up to `timeoutMs` to finish; then `beforeStop` (the handoff to peers) once what still runs
 * was aborted.
 */
export async function drainManager(core: ManagerCore, admission: TurnAdmission, timeoutMs: number, beforeStop?: () => Promise<void>): Promise<void> {
  const { lifecycle, logger } = core;
  if (lifecycle.state !== 'ready' && lifecycle.state !== 'unavailable' && lifecycle.state !== 'starting') return;
  lifecycle.enter('draining');
  logger.info('Draining: no new messages; waiting for accepted ones', { pending: lifecycle.pending, timeoutMs });
  if (!(await lifecycle.settle(timeoutMs))) logger.warn('Drain timeout: aborting the turns still running', { pending: lifecycle.pending });
  if (beforeStop !== undefined) {
    // A session moves only between turns: what is still running is ended first.
    await admission.abortAll('the service is shutting down');
    await beforeStop();
  }
}
