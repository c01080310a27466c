// What a session's turns consumed (tokens by type and cost in USD, as opencode reports them), and
// the per-session budgets that refuse new messages once a session is over one.
import type { z } from 'zod';
import type { sessionUsageSchema, tokenCountsSchema } from '../contracts/session.js';
import { isRecord } from '../util/guards.js';

export const TOKEN_TYPES = ['input', 'output', 'reasoning', 'cacheRead', 'cacheWrite'] as const;
export type TokenType = (typeof TOKEN_TYPES)[number];

/** The five counted types (declared in src/contracts/session.ts, as the API shows them). */
export type UsageTokens = z.infer<typeof tokenCountsSchema>;

/** A turn's tokens as opencode reports them (its `total` is not one of the counted types). */
export interface TokenUsage {
  input: number;
  output: number;
  reasoning: number;
  cacheRead: number;
  cacheWrite: number;
  total: number;
}

export function emptyTokens(): TokenUsage {
  return { input: 0, output: 0, reasoning: 0, cacheRead: 0, cacheWrite: 0, total: 0 };
}

/** Tokens, cost (USD, 0 for a model without a price) and turns since creation or the last reset (`resetAt`, null: never). */
export type SessionUsage = Readonly<z.infer<typeof sessionUsageSchema>>;

export interface Budgets {
  /** Tokens of every type together; undefined: no limit. */
  readonly sessionTokenBudget: number | undefined;
  readonly sessionCostBudgetUsd: number | undefined;
}

export function emptyUsage(resetAt: number | null = null): SessionUsage {
  return { tokens: { input: 0, output: 0, reasoning: 0, cacheRead: 0, cacheWrite: 0 }, cost: 0, turns: 0, resetAt };
}

/** The five counted types of a turn's tokens (opencode's `total` is not one of them). */
export function countedTokens(tokens: TokenUsage | undefined): UsageTokens {
  const out = emptyUsage().tokens;
  if (tokens === undefined) return out;
  for (const type of TOKEN_TYPES) out[type] = finiteOrZero(tokens[type]);
  return out;
}

/** The usage after one more turn. */
export function addTurn(usage: SessionUsage, tokens: TokenUsage | undefined, cost: number | undefined): SessionUsage {
  const turn = countedTokens(tokens);
  const sum = { ...usage.tokens };
  for (const type of TOKEN_TYPES) sum[type] += turn[type];
  return { tokens: sum, cost: usage.cost + finiteOrZero(cost), turns: usage.turns + 1, resetAt: usage.resetAt };
}

/** The usage after one more model call (counted at the gateway; the turn is counted when it ends). */
export function addCall(usage: SessionUsage, tokens: UsageTokens, cost: number): SessionUsage {
  const sum = { ...usage.tokens };
  for (const type of TOKEN_TYPES) sum[type] += finiteOrZero(tokens[type]);
  return { tokens: sum, cost: usage.cost + finiteOrZero(cost), turns: usage.turns, resetAt: usage.resetAt };
}

/** The usage after a turn whose calls were already counted one by one. */
export function addTurnOnly(usage: SessionUsage): SessionUsage {
  return { ...usage, turns: usage.turns + 1 };
}

export function totalTokens(usage: Pick<SessionUsage, 'tokens'>): number {
  return TOKEN_TYPES.reduce((sum, type) => sum + usage.tokens[type], 0);
}

/** Sums several sessions' usage (for the status totals). */
export function sumUsage(all: Iterable<SessionUsage>): Omit<SessionUsage, 'resetAt'> {
  const tokens = emptyUsage().tokens;
  let cost = 0;
  let turns = 0;
  for (const usage of all) {
    for (const type of TOKEN_TYPES) tokens[type] += usage.tokens[type];
    cost += usage.cost;
    turns += usage.turns;
  }
  return { tokens, cost, turns };
}

/** Why the session may not start another turn, or undefined when it is within its budgets. */
export function budgetExceeded(usage: SessionUsage, budgets: Budgets): string | undefined {
  const tokens = totalTokens(usage);
  if (budgets.sessionTokenBudget !== undefined && tokens >= budgets.sessionTokenBudget) {
    return `The session used ${tokens} tokens of its budget of ${budgets.sessionTokenBudget} (OCPM_SESSION_TOKEN_BUDGET)`;
  }
  if (budgets.sessionCostBudgetUsd !== undefined && usage.cost >= budgets.sessionCostBudgetUsd) {
    return `The session cost ${usage.cost.toFixed(4)} USD of its budget of ${budgets.sessionCostBudgetUsd} USD (OCPM_SESSION_COST_BUDGET_USD)`;
  }
  return undefined;
}

/** A stored or handed-over usage, checked field by field (anything missing or malformed counts as 0). */
export function usageFrom(value: unknown): SessionUsage {
  const record = isRecord(value) ? value : {};
  const tokens = isRecord(record.tokens) ? record.tokens : {};
  const usage = emptyUsage(typeof record.resetAt === 'number' ? record.resetAt : null);
  for (const type of TOKEN_TYPES) usage.tokens[type] = finiteOrZero(tokens[type]);
  return { ...usage, cost: finiteOrZero(record.cost), turns: finiteOrZero(record.turns) };
}

function finiteOrZero(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0;
}
