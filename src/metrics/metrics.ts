// One prom-client Registry per service (never the global one), with the metrics of each component
// (turns, pool, processes, service), each declared once in its own module. No label carries a
// session id, a path or user text: label values come from the domain modules' fixed sets.
import client from 'prom-client';
import { createClusterMetrics } from './cluster-metrics.js';
import { createGatewayMetrics } from './gateway-metrics.js';
import type { GaugeSources, MetricScope } from './metric-kit.js';
import { createPoolMetrics } from './pool-metrics.js';
import { createProcessMetrics } from './process-metrics.js';
import { createServiceMetrics } from './service-metrics.js';
import { createTurnMetrics } from './turn-metrics.js';
import { createUsageMetrics } from './usage-metrics.js';
import { createUserRequestMetrics } from './user-request-metrics.js';

export type { GaugeSources } from './metric-kit.js';

export type Metrics = { readonly registry: client.Registry } & ReturnType<typeof createTurnMetrics> &
  ReturnType<typeof createPoolMetrics> &
  ReturnType<typeof createProcessMetrics> &
  ReturnType<typeof createServiceMetrics> &
  ReturnType<typeof createUserRequestMetrics> &
  ReturnType<typeof createClusterMetrics> &
  ReturnType<typeof createUsageMetrics> &
  ReturnType<typeof createGatewayMetrics> & {
    /** Points the live gauges at their sources (the manager, once it exists). */
    bindGauges(sources: GaugeSources): void;
  };

export function createMetrics(options: { collectDefault?: boolean } = {}): Metrics {
  const registry = new client.Registry();
  if (options.collectDefault !== false) client.collectDefaultMetrics({ register: registry });
  let sources: GaugeSources | undefined;
  const scope: MetricScope = { registry, sources: () => sources };
  return {
    registry,
    ...createProcessMetrics(scope),
    ...createTurnMetrics(scope),
    ...createServiceMetrics(scope),
    ...createPoolMetrics(scope),
    ...createUserRequestMetrics(scope),
    ...createClusterMetrics(scope),
    ...createUsageMetrics(scope),
    ...createGatewayMetrics(scope),
    bindGauges(next) {
      sources = next;
    },
  };
}
