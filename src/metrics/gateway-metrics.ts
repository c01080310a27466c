// The model gateway: every model call by provider, model and outcome, its time to first byte and in
// all, refused reservations, and the upstream's error answers by status. Labels come from fixed sets:
// `provider` is a configured upstream, `model` a configured model or `other`.
import client from 'prom-client';
import type { MetricScope } from './metric-kit.js';

/** How a model call ended at the gateway. */
export const MODEL_CALL_OUTCOMES = ['success', 'upstream_error', 'failed', 'aborted', 'refused_budget', 'refused_rate', 'unauthorized'] as const;
export type ModelCallOutcome = (typeof MODEL_CALL_OUTCOMES)[number];

export function createGatewayMetrics(scope: MetricScope) {
  const registers = [scope.registry];
  const modelCalls = new client.Counter({
    name: 'opencode_manager_model_calls_total',
    help: 'Model calls through the gateway by provider, model (a configured model, else other) and outcome (success, upstream_error, failed, aborted, refused_budget, refused_rate, unauthorized).',
    labelNames: ['provider', 'model', 'outcome'] as const,
    registers,
  });
  const modelCallSeconds = new client.Histogram({
    name: 'opencode_manager_model_call_seconds',
    help: 'Model calls through the gateway: time to the first byte of the answer (phase=first_byte) and to its end (phase=total), by provider.',
    labelNames: ['provider', 'phase'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
    registers,
  });
  const reservationsRefused = new client.Counter({
    name: 'opencode_manager_model_reservations_refused_total',
    help: "Model calls refused before they went upstream: reason=budget (its worst case would cross the session's budget) or rate (OCPM_SESSION_MODEL_RPM).",
    labelNames: ['reason'] as const,
    registers,
  });
  const upstreamErrors = new client.Counter({
    name: 'opencode_manager_model_upstream_errors_total',
    help: 'Error answers of the model providers by provider and HTTP status (connect: no answer at all).',
    labelNames: ['provider', 'status'] as const,
    registers,
  });
  for (const reason of ['budget', 'rate']) reservationsRefused.inc({ reason }, 0);
  return { gateway: { modelCalls, modelCallSeconds, reservationsRefused, upstreamErrors } };
}

/**
 * Every proxied provider's series from boot (the dashboard's Model gateway row and the upstream-error
 * alert have data before the first call): calls of a model not configured (`other`) by outcome, no
 * answer at all (`connect`), and both phases of the call time.
 */
export function zeroProviderSeries(metrics: ReturnType<typeof createGatewayMetrics>['gateway'], providers: readonly string[]): void {
  for (const provider of providers) {
    for (const outcome of MODEL_CALL_OUTCOMES) metrics.modelCalls.inc({ provider, model: 'other', outcome }, 0);
    metrics.upstreamErrors.inc({ provider, status: 'connect' }, 0);
    for (const phase of ['first_byte', 'total']) metrics.modelCallSeconds.zero({ provider, phase });
  }
}
