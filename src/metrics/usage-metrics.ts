// What the turns consumed: tokens by type and cost in USD, each by model. The model label takes only
// the models opencode has configured (its catalog, read at boot) and `other` for anything else, so a
// client cannot grow the series by naming models.
import client from 'prom-client';
import { TOKEN_TYPES, type TokenType, type UsageTokens } from '../usage/usage.js';
import type { MetricScope } from './metric-kit.js';

/** The metric's `type` label for each of the usage's token types. */
export const TOKEN_TYPE_LABELS: Record<TokenType, string> = {
  input: 'input',
  output: 'output',
  reasoning: 'reasoning',
  cacheRead: 'cache_read',
  cacheWrite: 'cache_write',
};

/** The label for models outside the configured ones (and when opencode's models are unknown). */
export const OTHER_MODEL = 'other';

export function createUsageMetrics(scope: MetricScope) {
  const registers = [scope.registry];
  const tokens = new client.Counter({
    name: 'opencode_manager_tokens_total',
    help: 'Tokens the turns used, by type (input, output, reasoning, cache_read, cache_write) and model (a configured model, else other).',
    labelNames: ['type', 'model'] as const,
    registers,
  });
  const cost = new client.Counter({
    name: 'opencode_manager_cost_usd_total',
    help: 'Cost of the turns in US dollars as opencode prices them, by model (a configured model, else other).',
    labelNames: ['model'] as const,
    registers,
  });
  /** Zeroes a model's series so rates exist before its first turn. */
  const zeroModel = (model: string): void => {
    for (const type of TOKEN_TYPES) tokens.inc({ type: TOKEN_TYPE_LABELS[type], model }, 0);
    cost.inc({ model }, 0);
  };
  zeroModel(OTHER_MODEL);
  const countUsage = (model: string, turnTokens: UsageTokens, turnCost: number): void => {
    for (const type of TOKEN_TYPES) tokens.inc({ type: TOKEN_TYPE_LABELS[type], model }, turnTokens[type]);
    cost.inc({ model }, turnCost);
  };
  return { tokens, cost, usage: { zeroModel, count: countUsage } };
}
