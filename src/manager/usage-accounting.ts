// Where a turn's usage lands: the session's totals (saved with its record) and the usage metrics; and
// the budget check every new message passes.
import { OcpmError } from '../errors/errors.js';
import type { ModelGateway } from '../gateway/model-gateway.js';
import type { Metrics } from '../metrics/metrics.js';
import { OTHER_MODEL } from '../metrics/usage-metrics.js';
import type { Session, SessionRegistry } from '../store/session-registry.js';
import {
  addTurn,
  addTurnOnly,
  budgetExceeded,
  countedTokens,
  emptyUsage,
  totalTokens,
  type Budgets,
  type TokenUsage,
  type UsageTokens,
} from '../usage/usage.js';
import type { OpencodeCatalog } from './catalog/catalog.js';

/** What a turn's accounting uses (the turn runner passes its own deps; a usage reset only `sessions`). */
export interface UsageAccountingDeps {
  /** Where each session's totals are kept and saved. */
  readonly sessions: Pick<SessionRegistry, 'updateUsage'>;
  readonly metrics: Pick<Metrics, 'usage'>;
  /** Read when a turn is counted: boot reads the catalog after the parts are built. */
  readonly catalog: () => Pick<OpencodeCatalog, 'models' | 'defaultModel'> | undefined;
  /** OCPM_MODEL_GATEWAY: counts a turn's model calls when it carries them; undefined when off. */
  readonly gateway: Pick<ModelGateway, 'active' | 'beginTurn' | 'endTurn'> | undefined;
}

/** What the budget check of a new message uses. */
export interface BudgetCheckDeps {
  readonly sessions: Pick<SessionRegistry, 'get'>;
  readonly budgets: Budgets;
}

/** The metric label of a turn's model: the requested or default model when opencode has it configured. */
export function modelLabel(catalog: Pick<OpencodeCatalog, 'models' | 'defaultModel'> | undefined, requested: string | undefined): string {
  const model = requested ?? catalog?.defaultModel ?? undefined;
  return model !== undefined && catalog?.models.includes(model) === true ? model : OTHER_MODEL;
}

/** Adds one finished turn (any outcome; tokens and cost when opencode reported them) to its session and the metrics. */
export function recordTurnUsage(
  deps: Omit<UsageAccountingDeps, 'gateway'>,
  session: Session,
  model: string | undefined,
  tokens?: TokenUsage,
  cost?: number,
): void {
  deps.sessions.updateUsage(session, (usage) => addTurn(usage, tokens, cost));
  const counted = countedTokens(tokens);
  const turnCost = typeof cost === 'number' && Number.isFinite(cost) && cost > 0 ? cost : 0;
  if (turnCost > 0 || totalTokens({ tokens: counted }) > 0) deps.metrics.usage.count(modelLabel(deps.catalog(), model), counted, turnCost);
}

/** The five counts as a turn reports them (with their total). */
function asTokenUsage(tokens: UsageTokens): TokenUsage {
  return { ...tokens, total: totalTokens({ tokens }) };
}

/** Where a turn's usage comes from: the gateway's count of its calls when the gateway carries them. */
export function beginTurnUsage(deps: Pick<UsageAccountingDeps, 'gateway'>, session: Session): void {
  if (deps.gateway?.active === true) deps.gateway.beginTurn(session.id);
}

/**
 * Ends a turn's accounting. With the gateway, its calls were added to the session one by one (and to
 * the metrics): the turn is counted and their sum is its usage; `refusal` says why the gateway
 * refused one of its calls (a budget). Without it, what opencode reported is added now.
 */
export function settleTurnUsage(
  deps: UsageAccountingDeps,
  session: Session,
  model: string | undefined,
  reported: { tokens: TokenUsage; cost: number } | undefined,
): { tokens: TokenUsage; cost: number; refusal: string | undefined } | undefined {
  const { gateway } = deps;
  if (gateway?.active !== true) {
    recordTurnUsage(deps, session, model, reported?.tokens, reported?.cost);
    return reported === undefined ? undefined : { ...reported, refusal: undefined };
  }
  const calls = gateway.endTurn(session.id);
  deps.sessions.updateUsage(session, addTurnOnly);
  if (calls === undefined) return undefined;
  return { tokens: asTokenUsage(calls.tokens), cost: calls.cost, refusal: calls.refusal };
}

/** Starts the session's usage over (the budgets count from here). */
export function resetUsage(deps: Pick<UsageAccountingDeps, 'sessions'>, session: Session, now = Date.now()): void {
  deps.sessions.updateUsage(session, () => emptyUsage(now));
}

/** Throws 429 `budget_exceeded`, with the usage and the budgets, when the session is over a budget. */
export function assertWithinBudget(deps: BudgetCheckDeps, sessionId: string): void {
  const session = deps.sessions.get(sessionId);
  if (session === undefined) return;
  const { budgets } = deps;
  const reason = budgetExceeded(session.usage, budgets);
  if (reason === undefined) return;
  throw new OcpmError('budget_exceeded', `${reason}; POST /api/sessions/${sessionId}/usage/reset starts it over`, {
    details: {
      usage: session.usage,
      budget: { tokens: budgets.sessionTokenBudget ?? null, costUsd: budgets.sessionCostBudgetUsd ?? null },
    },
  });
}
