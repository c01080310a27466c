// The model gateway: every model call by provider, model and outcome, its time to first byte and in
// all, refused reservations, and the upstream's error answers by status. Labels come from fixed sets:
// `provider` is a configured upstream, `model` a configured model or `other`. The gateway reports
// into them through the recorder at the end (it never sees prom-client).
import client from 'prom-client';
import type { UsageTokens } from '../usage/usage.js';
import type { MetricScope } from './metric-kit.js';
import type { createUsageMetrics } from './usage-metrics.js';

/** How a model call ended at the gateway. */
export const MODEL_CALL_OUTCOMES = ['success', 'upstream_error', 'failed', 'aborted', 'refused_budget', 'refused_rate', 'unauthorized', 'warm_up'] as const;
export type ModelCallOutcome = (typeof MODEL_CALL_OUTCOMES)[number];

export function createGatewayMetrics(scope: MetricScope) {
  const registers = [scope.registry];
  const modelCalls = new client.Counter({
    name: 'opencode_manager_model_calls_total',
    help: 'Model calls through the gateway by provider, model (a configured model, else other) and outcome (success, upstream_error, failed, aborted, refused_budget, refused_rate, unauthorized, warm_up).',
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

type GatewayMetrics = ReturnType<typeof createGatewayMetrics>['gateway'];

/**
 * Every proxied provider's series from boot (the dashboard's Model gateway row and the upstream-error
 * alert have data before the first call): calls of a model not configured (`other`) by outcome, no
 * answer at all (`connect`), and both phases of the call time.
 */
function zeroProviderSeries(metrics: GatewayMetrics, providers: readonly string[]): void {
  for (const provider of providers) {
    for (const outcome of MODEL_CALL_OUTCOMES) metrics.modelCalls.inc({ provider, model: 'other', outcome }, 0);
    metrics.upstreamErrors.inc({ provider, status: 'connect' }, 0);
    for (const phase of ['first_byte', 'total']) metrics.modelCallSeconds.zero({ provider, phase });
  }
}

/** The gateway's recorder (GatewayRecorder in src/gateway/) over these metrics and the usage counters. */
export function gatewayRecorder(metrics: { readonly gateway: GatewayMetrics } & Pick<ReturnType<typeof createUsageMetrics>, 'usage'>) {
  const { gateway, usage } = metrics;
  return {
    providersKnown: (providers: readonly string[]): void => zeroProviderSeries(gateway, providers),
    called: (provider: string, model: string, outcome: ModelCallOutcome): void => gateway.modelCalls.inc({ provider, model, outcome }),
    timed: (provider: string, phase: 'first_byte' | 'total', seconds: number): void => gateway.modelCallSeconds.observe({ provider, phase }, seconds),
    refused: (reason: 'budget' | 'rate'): void => gateway.reservationsRefused.inc({ reason }),
    upstreamFailed: (provider: string, status: number | 'connect'): void => gateway.upstreamErrors.inc({ provider, status: String(status) }),
    used: (model: string, tokens: UsageTokens, cost: number): void => usage.count(model, tokens, cost),
  };
}
