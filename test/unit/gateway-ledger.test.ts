// The model ledger: each call reserves its worst case against its session's token and cost budgets
// (next to what the session used and what its other calls in flight reserved), the reservation is
// settled to the provider's reported usage or released, turns collect their calls, and a session's
// calls per minute are limited.
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { costOf, DEFAULT_OUTPUT_RESERVATION, ModelLedger, type ModelPrice, type ModelTerms, type Reservation } from '../../src/gateway/model-ledger.js';
import { addCall, emptyUsage, totalTokens, type Budgets, type SessionUsage, type UsageTokens } from '../../src/usage/usage.js';

const SESSION = 's1';
const NO_TERMS: ModelTerms = { price: undefined, outputLimit: undefined };
// USD per million tokens.
const PRICE: ModelPrice = { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 };

function tokens(partial: Partial<UsageTokens> = {}): UsageTokens {
  return { ...emptyUsage().tokens, ...partial };
}

interface Harness {
  ledger: ModelLedger;
  usage: Map<string, SessionUsage>;
  added: { sessionId: string; tokens: UsageTokens; cost: number }[];
  budgets: { current: Budgets };
  clock: { now: number };
}

function harness(options: { budgets?: Partial<Budgets>; rpm?: number } = {}): Harness {
  const usage = new Map<string, SessionUsage>([
    [SESSION, emptyUsage()],
    ['s2', emptyUsage()],
  ]);
  const added: Harness['added'] = [];
  const budgets = { current: { sessionTokenBudget: undefined, sessionCostBudgetUsd: undefined, ...options.budgets } };
  const clock = { now: 1_000_000 };
  const ledger = new ModelLedger({
    usageOf: (id) => usage.get(id),
    addUsage: (id, t, cost) => {
      added.push({ sessionId: id, tokens: t, cost });
      const before = usage.get(id);
      if (before !== undefined) usage.set(id, addCall(before, t, cost));
    },
    budgets: () => budgets.current,
    rpm: options.rpm ?? 0,
    now: () => clock.now,
  });
  return { ledger, usage, added, budgets, clock };
}

function admitted(ledger: ModelLedger, terms: ModelTerms, maxOutput: number | undefined, sessionId = SESSION): Reservation {
  const admission = ledger.admit(sessionId, terms, maxOutput);
  assert.ok(admission.ok, `expected admission, got ${admission.ok ? '' : admission.message}`);
  return admission.reservation;
}

describe('costOf', () => {
  it('prices input, output and reasoning (at the output price), cache read and cache write per million tokens', () => {
    const used = tokens({ input: 1_000_000, output: 200_000, reasoning: 100_000, cacheRead: 2_000_000, cacheWrite: 400_000 });
    // 3 + (0.3M * 15) + 2 * 0.3 + 0.4 * 3.75
    assert.ok(Math.abs(costOf(used, PRICE) - (3 + 4.5 + 0.6 + 1.5)) < 1e-9);
    assert.equal(costOf(used, undefined), 0);
  });
});

describe('ModelLedger reservations', () => {
  let h: Harness;
  beforeEach(() => {
    h = harness({ budgets: { sessionTokenBudget: 1000 } });
  });

  it('reserves the call’s max_tokens', () => {
    const reservation = admitted(h.ledger, NO_TERMS, 300);
    assert.equal(reservation.tokens, 300);
    assert.equal(reservation.sessionId, SESSION);
    assert.deepEqual(h.ledger.inFlight(SESSION), { tokens: 300, cost: 0 });
  });

  it('reserves the model’s output limit when the call names no cap', () => {
    assert.equal(admitted(h.ledger, { price: undefined, outputLimit: 400 }, undefined).tokens, 400);
  });

  it('reserves DEFAULT_OUTPUT_RESERVATION when neither is known', () => {
    const open = harness();
    assert.equal(admitted(open.ledger, NO_TERMS, undefined).tokens, DEFAULT_OUTPUT_RESERVATION);
  });

  it('the call’s cap wins over the model’s limit', () => {
    assert.equal(admitted(h.ledger, { price: undefined, outputLimit: 400 }, 50).tokens, 50);
  });

  it('refuses a call whose reservation would cross the token budget with what was used and what is in flight', () => {
    h.usage.set(SESSION, addCall(emptyUsage(), tokens({ input: 300 }), 0));
    admitted(h.ledger, NO_TERMS, 400); // 300 used + 400 in flight
    const admission = h.ledger.admit(SESSION, NO_TERMS, 301); // 1001 > 1000
    assert.equal(admission.ok, false);
    assert.ok(!admission.ok);
    assert.equal(admission.reason, 'budget');
    assert.match(admission.message, /OCPM_SESSION_TOKEN_BUDGET/);
    assert.deepEqual(h.ledger.inFlight(SESSION), { tokens: 400, cost: 0 });
    // Exactly at the budget is admitted.
    admitted(h.ledger, NO_TERMS, 300);
    assert.deepEqual(h.ledger.inFlight(SESSION), { tokens: 700, cost: 0 });
  });

  it('keeps sessions apart', () => {
    admitted(h.ledger, NO_TERMS, 1000);
    assert.equal(h.ledger.admit(SESSION, NO_TERMS, 1).ok, false);
    admitted(h.ledger, NO_TERMS, 1000, 's2');
  });

  it('refuses a session that no longer exists', () => {
    const admission = h.ledger.admit('gone', NO_TERMS, 1);
    assert.ok(!admission.ok);
    assert.equal(admission.reason, 'budget');
  });

  it('refuses by the cost budget when the model has a price', () => {
    const costly = harness({ budgets: { sessionCostBudgetUsd: 0.02 } });
    const terms: ModelTerms = { price: PRICE, outputLimit: undefined };
    // 1000 output tokens at 15 USD per million: 0.015 USD.
    const first = admitted(costly.ledger, terms, 1000);
    assert.ok(Math.abs(first.cost - 0.015) < 1e-12);
    const admission = costly.ledger.admit(SESSION, terms, 1000); // 0.03 > 0.02
    assert.ok(!admission.ok);
    assert.equal(admission.reason, 'budget');
    assert.match(admission.message, /OCPM_SESSION_COST_BUDGET_USD/);
    // Without a price a call costs nothing and the cost budget does not refuse it.
    admitted(costly.ledger, NO_TERMS, 1000);
  });

  it('settle replaces the reservation by the reported usage and adds it with its cost', () => {
    const terms: ModelTerms = { price: PRICE, outputLimit: undefined };
    const reservation = admitted(h.ledger, terms, 800);
    const reported = tokens({ input: 100, output: 50, reasoning: 20, cacheRead: 200, cacheWrite: 10 });
    const settled = h.ledger.settle(reservation, reported);
    const expectedCost = (100 * 3 + 70 * 15 + 200 * 0.3 + 10 * 3.75) / 1_000_000;
    assert.deepEqual(settled.tokens, reported);
    assert.ok(Math.abs(settled.cost - expectedCost) < 1e-15);
    assert.equal(h.added.length, 1);
    assert.deepEqual(h.added[0]?.tokens, reported);
    assert.ok(Math.abs((h.added[0]?.cost ?? 0) - expectedCost) < 1e-15);
    assert.deepEqual(h.ledger.inFlight(SESSION), { tokens: 0, cost: 0 });
    assert.equal(totalTokens(h.usage.get(SESSION)!), 380);
    // The freed reservation makes room again: 380 used + 620 = 1000.
    admitted(h.ledger, terms, 620);
  });

  it('settle without a reported usage charges the whole reservation as output', () => {
    const reservation = admitted(h.ledger, { price: PRICE, outputLimit: undefined }, 500);
    const settled = h.ledger.settle(reservation, undefined);
    assert.deepEqual(settled.tokens, tokens({ output: 500 }));
    assert.ok(Math.abs(settled.cost - (500 * 15) / 1_000_000) < 1e-15);
    assert.deepEqual(h.usage.get(SESSION)?.tokens, tokens({ output: 500 }));
  });

  it('leaves nothing reserved once every call in flight is settled', () => {
    const terms: ModelTerms = { price: PRICE, outputLimit: undefined };
    const reservations = [admitted(h.ledger, terms, 100), admitted(h.ledger, terms, 100), admitted(h.ledger, terms, 100)];
    for (const reservation of reservations) h.ledger.settle(reservation, tokens({ output: 10 }));
    assert.deepEqual(h.ledger.inFlight(SESSION), { tokens: 0, cost: 0 });
  });

  it('release frees a reservation without charging', () => {
    const reservation = admitted(h.ledger, NO_TERMS, 1000);
    assert.equal(h.ledger.admit(SESSION, NO_TERMS, 1).ok, false);
    h.ledger.release(reservation);
    assert.deepEqual(h.ledger.inFlight(SESSION), { tokens: 0, cost: 0 });
    assert.equal(h.added.length, 0);
    assert.deepEqual(h.usage.get(SESSION), emptyUsage());
    admitted(h.ledger, NO_TERMS, 1000);
  });

  it('does not add usage to a session deleted while its call was in flight', () => {
    const reservation = admitted(h.ledger, NO_TERMS, 100);
    h.usage.delete(SESSION);
    h.ledger.settle(reservation, tokens({ input: 1 }));
    assert.equal(h.added.length, 0);
  });

  it('forget clears the reservations in flight', () => {
    admitted(h.ledger, NO_TERMS, 1000);
    h.ledger.forget(SESSION);
    assert.deepEqual(h.ledger.inFlight(SESSION), { tokens: 0, cost: 0 });
    admitted(h.ledger, NO_TERMS, 1000);
  });
});

describe('ModelLedger turns', () => {
  it('collects the calls of a turn and the refusal that stopped one', () => {
    const h = harness({ budgets: { sessionTokenBudget: 1000 } });
    const before = admitted(h.ledger, NO_TERMS, 10);
    h.ledger.settle(before, tokens({ input: 5 })); // before the turn: not in it
    h.ledger.beginTurn(SESSION);
    h.ledger.settle(admitted(h.ledger, { price: PRICE, outputLimit: undefined }, 100), tokens({ input: 40, output: 10 }));
    h.ledger.settle(admitted(h.ledger, { price: PRICE, outputLimit: undefined }, 100), tokens({ input: 60, cacheRead: 100 }));
    h.ledger.release(admitted(h.ledger, NO_TERMS, 100)); // failed upstream: not a call of the turn
    const refusal = h.ledger.admit(SESSION, NO_TERMS, 900);
    assert.ok(!refusal.ok);
    h.ledger.admit(SESSION, NO_TERMS, 950); // a second refusal keeps the first message
    const turn = h.ledger.endTurn(SESSION);
    assert.ok(turn !== undefined);
    assert.equal(turn.calls, 2);
    assert.deepEqual(turn.tokens, tokens({ input: 100, output: 10, cacheRead: 100 }));
    assert.ok(Math.abs(turn.cost - (100 * 3 + 10 * 15 + 100 * 0.3) / 1_000_000) < 1e-15);
    assert.equal(turn.refusal, refusal.message);
    assert.equal(h.ledger.endTurn(SESSION), undefined);
  });

  it('forget drops an open turn', () => {
    const h = harness();
    h.ledger.beginTurn(SESSION);
    h.ledger.forget(SESSION);
    assert.equal(h.ledger.endTurn(SESSION), undefined);
  });
});

describe('ModelLedger calls per minute', () => {
  it('refuses the third call within 60 s with retryAfterMs, and admits once the window passed', () => {
    const h = harness({ rpm: 2 });
    h.ledger.settle(admitted(h.ledger, NO_TERMS, 10), tokens({ output: 1 }));
    h.clock.now += 10_000;
    h.ledger.settle(admitted(h.ledger, NO_TERMS, 10), tokens({ output: 1 }));
    h.clock.now += 5_000;
    const third = h.ledger.admit(SESSION, NO_TERMS, 10);
    assert.ok(!third.ok);
    assert.equal(third.reason, 'rate');
    assert.match(third.message, /OCPM_SESSION_MODEL_RPM=2/);
    // The oldest call leaves the window 60 s after it was made: 45 s from now.
    assert.equal(third.retryAfterMs, 45_000);
    assert.deepEqual(h.ledger.inFlight(SESSION), { tokens: 0, cost: 0 });
    // Another session has its own count.
    admitted(h.ledger, NO_TERMS, 10, 's2');
    h.clock.now += 44_999;
    assert.equal(h.ledger.admit(SESSION, NO_TERMS, 10).ok, false);
    h.clock.now += 1;
    admitted(h.ledger, NO_TERMS, 10);
    // Two calls in the window again (the second and this one).
    assert.equal(h.ledger.admit(SESSION, NO_TERMS, 10).ok, false);
  });

  it('does not count a call refused by the budget', () => {
    const h = harness({ rpm: 2, budgets: { sessionTokenBudget: 100 } });
    assert.equal(h.ledger.admit(SESSION, NO_TERMS, 1000).ok, false);
    admitted(h.ledger, NO_TERMS, 10);
    admitted(h.ledger, NO_TERMS, 10);
  });

  it('has no limit with rpm 0', () => {
    const h = harness({ rpm: 0 });
    for (let i = 0; i < 100; i += 1) h.ledger.release(admitted(h.ledger, NO_TERMS, 10));
  });

  it('forget clears the count', () => {
    const h = harness({ rpm: 1 });
    admitted(h.ledger, NO_TERMS, 10);
    assert.equal(h.ledger.admit(SESSION, NO_TERMS, 10).ok, false);
    h.ledger.forget(SESSION);
    admitted(h.ledger, NO_TERMS, 10);
  });
});
