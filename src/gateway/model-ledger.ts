// What each session's model calls may spend and did spend. Before a call goes upstream it reserves
// its worst case (its output cap, at the model's output price) against the session's token and cost
// budgets, next to what the session used and what its other calls in flight reserved; a call that
// would cross a budget is refused. After the call the reservation is settled to the usage the
// provider reported. So concurrent calls overspend by at most one reservation's error, never by
// the number of calls. The same place counts each session's calls per minute.
import { TOKEN_TYPES, totalTokens, type Budgets, type SessionUsage, type UsageTokens } from '../usage/usage.js';

/** USD per million tokens, as opencode's catalog prices a model. */
export interface ModelPrice {
  readonly input: number;
  readonly output: number;
  readonly cacheRead: number;
  readonly cacheWrite: number;
}

export interface ModelTerms {
  readonly price: ModelPrice | undefined;
  /** The model's output limit (the cap of a call that names none). */
  readonly outputLimit: number | undefined;
}

/** opencode's own cap on a call's output when the model has no limit (OUTPUT_TOKEN_MAX). */
export const DEFAULT_OUTPUT_RESERVATION = 32000;

export interface Reservation {
  readonly sessionId: string;
  readonly tokens: number;
  readonly cost: number;
  readonly price: ModelPrice | undefined;
}

/** What one turn's calls used, and why a call of it was refused. */
export interface TurnCalls {
  readonly tokens: UsageTokens;
  readonly cost: number;
  readonly calls: number;
  readonly refusal: string | undefined;
}

export type Admission =
  | { readonly ok: true; readonly reservation: Reservation }
  | { readonly ok: false; readonly reason: 'budget' | 'rate'; readonly message: string; readonly retryAfterMs?: number };

export interface LedgerDeps {
  /** The session's usage so far, or undefined when it does not exist (any more). */
  readonly usageOf: (sessionId: string) => SessionUsage | undefined;
  /** Adds a settled call to the session's usage (and saves it). */
  readonly addUsage: (sessionId: string, tokens: UsageTokens, cost: number) => void;
  readonly budgets: () => Budgets;
  /** OCPM_SESSION_MODEL_RPM; 0: no limit. */
  readonly rpm: number;
  readonly now?: () => number;
}

export function costOf(tokens: UsageTokens, price: ModelPrice | undefined): number {
  if (price === undefined) return 0;
  const usd =
    tokens.input * price.input + (tokens.output + tokens.reasoning) * price.output + tokens.cacheRead * price.cacheRead + tokens.cacheWrite * price.cacheWrite;
  return usd / 1_000_000;
}

interface Pending {
  calls: number;
  tokens: number;
  cost: number;
}

interface OpenTurn {
  tokens: UsageTokens;
  cost: number;
  calls: number;
  refusal: string | undefined;
}

export class ModelLedger {
  private readonly pending = new Map<string, Pending>();
  private readonly recentCalls = new Map<string, number[]>();
  private readonly turns = new Map<string, OpenTurn>();
  private readonly now: () => number;

  constructor(private readonly deps: LedgerDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Reserves a call's worst case, or says why it may not go upstream. */
  admit(sessionId: string, terms: ModelTerms, maxOutput: number | undefined): Admission {
    const usage = this.deps.usageOf(sessionId);
    if (usage === undefined) return { ok: false, reason: 'budget', message: 'the session no longer exists' };
    const rate = this.checkRate(sessionId);
    if (rate !== undefined) return rate;
    const tokens = maxOutput ?? terms.outputLimit ?? DEFAULT_OUTPUT_RESERVATION;
    const cost = terms.price === undefined ? 0 : (tokens * terms.price.output) / 1_000_000;
    const pending = this.pending.get(sessionId) ?? { calls: 0, tokens: 0, cost: 0 };
    const { sessionTokenBudget, sessionCostBudgetUsd } = this.deps.budgets();
    const usedTokens = totalTokens(usage) + pending.tokens;
    const usedCost = usage.cost + pending.cost;
    let refusal: string | undefined;
    if (sessionTokenBudget !== undefined && usedTokens + tokens > sessionTokenBudget) {
      refusal = `this model call may use up to ${tokens} tokens; with the ${usedTokens} the session used or has in flight that crosses its budget of ${sessionTokenBudget} (OCPM_SESSION_TOKEN_BUDGET)`;
    } else if (sessionCostBudgetUsd !== undefined && cost > 0 && usedCost + cost > sessionCostBudgetUsd) {
      refusal = `this model call may cost up to ${cost.toFixed(4)} USD; with the ${usedCost.toFixed(4)} USD the session used or has in flight that crosses its budget of ${sessionCostBudgetUsd} USD (OCPM_SESSION_COST_BUDGET_USD)`;
    }
    if (refusal !== undefined) {
      const turn = this.turns.get(sessionId);
      if (turn !== undefined) turn.refusal ??= refusal;
      return { ok: false, reason: 'budget', message: refusal };
    }
    pending.calls += 1;
    pending.tokens += tokens;
    pending.cost += cost;
    this.pending.set(sessionId, pending);
    this.noteCall(sessionId);
    return { ok: true, reservation: { sessionId, tokens, cost, price: terms.price } };
  }

  /**
   * Replaces the reservation by what the call used. A call whose usage never came (a stream cut
   * short) is charged its whole reservation as output: a caller cannot spend without counting.
   */
  settle(reservation: Reservation, reported: UsageTokens | undefined): { tokens: UsageTokens; cost: number } {
    this.release(reservation);
    const tokens = reported ?? { input: 0, output: reservation.tokens, reasoning: 0, cacheRead: 0, cacheWrite: 0 };
    const cost = costOf(tokens, reservation.price);
    if (this.deps.usageOf(reservation.sessionId) !== undefined) this.deps.addUsage(reservation.sessionId, tokens, cost);
    const turn = this.turns.get(reservation.sessionId);
    if (turn !== undefined) {
      for (const type of TOKEN_TYPES) turn.tokens[type] += tokens[type];
      turn.cost += cost;
      turn.calls += 1;
    }
    return { tokens, cost };
  }

  /** A call that failed upstream (an error answer, no connection): nothing was used. */
  release(reservation: Reservation): void {
    const pending = this.pending.get(reservation.sessionId);
    if (pending === undefined) return;
    pending.calls -= 1;
    pending.tokens = Math.max(0, pending.tokens - reservation.tokens);
    pending.cost = Math.max(0, pending.cost - reservation.cost);
    // The last call out takes the sums with it (no floating-point residue stays reserved).
    if (pending.calls <= 0) this.pending.delete(reservation.sessionId);
  }

  /** From now on the session's calls also count for its running turn. */
  beginTurn(sessionId: string): void {
    this.turns.set(sessionId, { tokens: { input: 0, output: 0, reasoning: 0, cacheRead: 0, cacheWrite: 0 }, cost: 0, calls: 0, refusal: undefined });
  }

  /** What the turn's calls used (and the refusal that stopped one of them). */
  endTurn(sessionId: string): TurnCalls | undefined {
    const turn = this.turns.get(sessionId);
    this.turns.delete(sessionId);
    return turn;
  }

  /** Tokens and USD reserved by calls in flight, per session (for the status). */
  inFlight(sessionId: string): { tokens: number; cost: number } {
    const pending = this.pending.get(sessionId);
    return { tokens: pending?.tokens ?? 0, cost: pending?.cost ?? 0 };
  }

  forget(sessionId: string): void {
    this.pending.delete(sessionId);
    this.recentCalls.delete(sessionId);
    this.turns.delete(sessionId);
  }

  private checkRate(sessionId: string): Admission | undefined {
    const { rpm } = this.deps;
    if (rpm <= 0) return undefined;
    const now = this.now();
    const recent = (this.recentCalls.get(sessionId) ?? []).filter((at) => now - at < 60_000);
    this.recentCalls.set(sessionId, recent);
    if (recent.length < rpm) return undefined;
    const retryAfterMs = Math.max(1, 60_000 - (now - recent[0]!));
    return {
      ok: false,
      reason: 'rate',
      message: `the session made ${recent.length} model calls in the last minute (OCPM_SESSION_MODEL_RPM=${rpm})`,
      retryAfterMs,
    };
  }

  private noteCall(sessionId: string): void {
    if (this.deps.rpm <= 0) return;
    const recent = this.recentCalls.get(sessionId) ?? [];
    recent.push(this.now());
    this.recentCalls.set(sessionId, recent);
  }
}
