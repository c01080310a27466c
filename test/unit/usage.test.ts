// The usage arithmetic: adding turns, budgets, stored values, and the bounded model label.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { modelLabel } from '../../src/manager/usage-accounting.js';
import { addTurn, budgetExceeded, emptyUsage, sumUsage, totalTokens, usageFrom } from '../../src/usage/usage.js';

const turnTokens = (input: number, output: number) => ({ input, output, reasoning: 1, cacheRead: 2, cacheWrite: 3, total: 999 });

describe('session usage', () => {
  it('adds the five token types and the cost of each turn, and counts turns without usage', () => {
    let usage = emptyUsage();
    usage = addTurn(usage, turnTokens(10, 5), 0.5);
    usage = addTurn(usage, undefined, undefined);
    usage = addTurn(usage, turnTokens(1, 1), 0.25);
    assert.deepEqual(usage.tokens, { input: 11, output: 6, reasoning: 2, cacheRead: 4, cacheWrite: 6 });
    assert.equal(usage.cost, 0.75);
    assert.equal(usage.turns, 3);
    assert.equal(totalTokens(usage), 29, "opencode's own total is not added twice");
  });

  it('ignores negative, infinite and non-numeric values', () => {
    const usage = addTurn(emptyUsage(), { input: -5, output: Number.POSITIVE_INFINITY, reasoning: Number.NaN, cacheRead: 1, cacheWrite: 0, total: 0 }, -1);
    assert.deepEqual(usage.tokens, { input: 0, output: 0, reasoning: 0, cacheRead: 1, cacheWrite: 0 });
    assert.equal(usage.cost, 0);
  });

  it('reads stored or handed-over usage field by field', () => {
    assert.deepEqual(usageFrom(undefined), emptyUsage());
    assert.deepEqual(usageFrom({ tokens: { input: 3, output: 'x' }, cost: 2, turns: 4, resetAt: 7 }), {
      tokens: { input: 3, output: 0, reasoning: 0, cacheRead: 0, cacheWrite: 0 },
      cost: 2,
      turns: 4,
      resetAt: 7,
    });
  });

  it('sums sessions for the status', () => {
    const a = addTurn(emptyUsage(), turnTokens(1, 2), 0.1);
    const b = addTurn(addTurn(emptyUsage(), turnTokens(3, 4), 0.2), undefined, undefined);
    const sum = sumUsage([a, b]);
    assert.deepEqual(sum.tokens, { input: 4, output: 6, reasoning: 2, cacheRead: 4, cacheWrite: 6 });
    assert.ok(Math.abs(sum.cost - 0.3) < 1e-12);
    assert.equal(sum.turns, 3);
  });
});

describe('budgets', () => {
  const none = { sessionTokenBudget: undefined, sessionCostBudgetUsd: undefined };
  it('refuses at or over a budget, never without one', () => {
    const usage = addTurn(emptyUsage(), turnTokens(4, 0), 0.5); // 10 tokens
    assert.equal(budgetExceeded(usage, none), undefined);
    assert.equal(budgetExceeded(usage, { ...none, sessionTokenBudget: 11 }), undefined);
    assert.match(budgetExceeded(usage, { ...none, sessionTokenBudget: 10 }) ?? '', /10 tokens of its budget of 10/);
    assert.equal(budgetExceeded(usage, { ...none, sessionCostBudgetUsd: 0.51 }), undefined);
    assert.match(budgetExceeded(usage, { ...none, sessionCostBudgetUsd: 0.5 }) ?? '', /OCPM_SESSION_COST_BUDGET_USD/);
  });
});

describe('the model label', () => {
  const catalog = { models: ['anthropic/claude', 'stub/stub-model'], defaultModel: 'stub/stub-model' };
  it('is the requested or default model when opencode has it, else other', () => {
    assert.equal(modelLabel(catalog, 'anthropic/claude'), 'anthropic/claude');
    assert.equal(modelLabel(catalog, undefined), 'stub/stub-model');
    assert.equal(modelLabel(catalog, 'made-up/model'), 'other');
    assert.equal(modelLabel(undefined, 'anthropic/claude'), 'other');
    assert.equal(modelLabel({ models: [], defaultModel: null }, undefined), 'other');
  });
});
