// Where a turn's usage lands: the session's totals (saved with its record) and the usage metrics; and
// the budget check every new message passes.
import { OcpmError } from '../errors/errors.js';
import { OTHER_MODEL } from '../metrics/usage-metrics.js';
import type { Session } from '../store/session-registry.js';
import { addTurn, addTurnOnly, budgetExceeded, countedTokens, emptyUsage, totalTokens, type TokenUsage, type UsageTokens } from '../usage/usage.js';
import type { OpencodeCatalog } from './catalog/catalog.js';
import type { ManagerCore } from './manager-core.js';

/** The metric label of a turn's model: the requested or default model when opencode has it configured. */
export function modelLabel(catalog: Pick<OpencodeCatalog, 'models' | 'defaultModel'> | undefined, requested: string | undefined): string {
  const model = requested ?? catalog?.defaultModel ?? undefined;
  return model !== undefined && catalog?.models.includes(model) === true ? model : OTHER_MODEL;
}

/** Adds one finished turn (any outcome; tokens and cost when opencode reported them) to its session and the metrics. */
export function recordTurnUsage(core: ManagerCore, session: Session, model: string | undefined, tokens?: TokenUsage, cost?: number): void {
  core.sessions.updateUsage(session, (usage) => addTurn(usage, tokens, cost));
  const counted = countedTokens(tokens);
  const turnCost = typeof cost === 'number' && Number.isFinite(cost) && cost > 0 ? cost : 0;
  if (turnCost > 0 || totalTokens({ tokens: counted }) > 0) core.metrics.usage.count(modelLabel(core.catalog, model), counted, turnCost);
}

/** The five counts as a turn reports them (with their total). */
function asTokenUsage(tokens: UsageTokens): TokenUsage {
  return { ...tokens, total: totalTokens({ tokens }) };
}

/** Where a turn's usage comes from: the gateway's count of its calls when the gateway carries them. */
export function beginTurnUsage(core: ManagerCore, session: Session): void {
  if (core.gateway?.active === true) core.gateway.beginTurn(session.id);
}

/**
 * Ends a turn's accounting. With the gateway, its calls were added to the session one by one (and to
 * the metrics): the turn is counted and their sum is its usage; `refusal` says why the gateway
 * refused one of its calls (a budget). Without it, what opencode reported is added now.
 */
export function settleTurnUsage(
  core: ManagerCore,
  session: Session,
  model: string | undefined,
  reported: { tokens: TokenUsage; cost: number } | undefined,
): { tokens: TokenUsage; cost: number; refusal: string | undefined } | undefined {
  const { gateway } = core;
  if (gateway?.active !== true) {
    recordTurnUsage(core, session, model, reported?.tokens, reported?.cost);
    return reported === undefined ? undefined : { ...reported, refusal: undefined };
  }
  const calls = gateway.endTurn(session.id);
  core.sessions.updateUsage(session, addTurnOnly);
  if (calls === undefined) return undefined;
  return { tokens: asTokenUsage(calls.tokens), cost: calls.cost, refusal: calls.refusal };
}

/** Starts the session's usage over (the budgets count from here). */
export function resetUsage(core: ManagerCore, session: Session, now = Date.now()): void {
  core.sessions.updateUsage(session, () => emptyUsage(now));
}

/** Throws 429 `budget_exceeded`, with the usage and the budgets, when the session is over a budget. */
export function assertWithinBudget(core: ManagerCore, sessionId: string): void {
  const session = core.sessions.get(sessionId);
  if (session === undefined) return;
  const { budgets } = core.settings;
  const reason = budgetExceeded(session.usage, budgets);
  if (reason === undefined) return;
  throw new OcpmError('budget_exceeded', `${reason}; POST /api/sessions/${sessionId}/usage/reset starts it over`, {
    details: {
      usage: session.usage,
      budget: { tokens: budgets.sessionTokenBudget ?? null, costUsd: budgets.sessionCostBudgetUsd ?? null },
    },
  });
}
