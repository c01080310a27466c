// Turns and the queue: how many ran, how they ended, how long they took and waited, and what was refused.
import client from 'prom-client';
import { REFUSAL_CODES, REJECT_REASONS, TURN_MODES, TURN_OUTCOMES } from '../contracts/vocabulary.js';
import { liveGauge, type MetricScope } from './metric-kit.js';

/** 0.05 s to 30 min: a cached server answer to a long agent turn. */
export const COMMAND_DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800];
export const QUEUE_WAIT_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

export function createTurnMetrics(scope: MetricScope) {
  const registers = [scope.registry];
  const commands = new client.Counter({
    name: 'opencode_manager_commands_total',
    help: 'Turns (messages) the manager ran, by mode and outcome.',
    labelNames: ['mode', 'outcome'] as const,
    registers,
  });
  const commandDuration = new client.Histogram({
    name: 'opencode_manager_command_duration_seconds',
    help: 'Wall time of a turn from start to result, by mode and outcome.',
    labelNames: ['mode', 'outcome'] as const,
    buckets: COMMAND_DURATION_BUCKETS,
    registers,
  });
  const queueWait = new client.Histogram({
    name: 'opencode_manager_queue_wait_seconds',
    help: 'Time a message waited for its turn (0 when it started at once).',
    buckets: QUEUE_WAIT_BUCKETS,
    registers,
  });
  const rejected = new client.Counter({
    name: 'opencode_manager_rejected_total',
    help: 'Messages refused or dropped before they started, by reason (queue_full, session_queue_full, queue_timeout, draining).',
    labelNames: ['reason'] as const,
    registers,
  });
  const messagesRefused = new client.Counter({
    name: 'opencode_manager_messages_refused_total',
    help: 'Messages refused before they became a turn (no turn record, not in commands_total), by error code (no_provider, invalid_model, budget_exceeded, queue_full, not_ready, ...).',
    labelNames: ['code'] as const,
    registers,
  });
  liveGauge(scope, 'opencode_manager_pending_requests', 'Messages waiting in the queue for their turn.', (s) => s.pendingRequests());
  // Zero every known series up front so rates and ratios exist before the first event.
  for (const mode of TURN_MODES) {
    for (const outcome of TURN_OUTCOMES) {
      commands.inc({ mode, outcome }, 0);
      commandDuration.zero({ mode, outcome });
    }
  }
  for (const code of REFUSAL_CODES) messagesRefused.inc({ code }, 0);
  for (const reason of REJECT_REASONS) rejected.inc({ reason }, 0);
  return { commands, commandDuration, queueWait, rejected, messagesRefused };
}
