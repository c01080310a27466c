// What a turn used, as opencode reports it in both modes: a step's `step-finish` part (each
// `step_finish` line of `opencode run`, summed over the run) and the assistant message `opencode serve`
// answers carry the same `tokens` and `cost` shape (the SDK's). Read here and added up here, for both.
import type { AssistantMessage, StepFinishPart } from '@opencode-ai/sdk/v2';
import { emptyTokens, type TokenUsage } from '../usage/usage.js';
import { isRecord } from '../util/guards.js';
import { num, type Unchecked } from './unchecked.js';

/** Tokens and cost (USD) of a step, a message, or a sum of them. */
export interface WireUsage {
  readonly tokens: TokenUsage;
  readonly cost: number;
}

type UsageCarrier = Unchecked<Pick<AssistantMessage | StepFinishPart, 'tokens' | 'cost'>>;
type WireTokens = Unchecked<StepFinishPart['tokens']>;
type WireCache = Unchecked<StepFinishPart['tokens']['cache']>;

export function emptyUsage(): WireUsage {
  return { tokens: emptyTokens(), cost: 0 };
}

/**
 * The tokens of a `step-finish` part or an assistant message (anything else: none). A missing total
 * is input + output + reasoning, opencode's own sum (the cache is not in it).
 */
export function tokensOf(carrier: unknown): TokenUsage {
  const value: UsageCarrier = isRecord(carrier) ? carrier : {};
  if (!isRecord(value.tokens)) return emptyTokens();
  const tokens: WireTokens = value.tokens;
  const cache: WireCache = isRecord(tokens.cache) ? tokens.cache : {};
  const input = num(tokens.input);
  const output = num(tokens.output);
  const reasoning = num(tokens.reasoning);
  return { input, output, reasoning, cacheRead: num(cache.read), cacheWrite: num(cache.write), total: num(tokens.total) || input + output + reasoning };
}

/** The tokens and cost of a `step-finish` part or an assistant message. */
export function usageOf(carrier: unknown): WireUsage {
  const value: UsageCarrier = isRecord(carrier) ? carrier : {};
  return { tokens: tokensOf(value), cost: num(value.cost) };
}

/** Two usages added up, type by type (a run's steps add up to what its message reports). */
export function addUsage(sum: WireUsage, more: WireUsage): WireUsage {
  const a = sum.tokens;
  const b = more.tokens;
  return {
    tokens: {
      input: a.input + b.input,
      output: a.output + b.output,
      reasoning: a.reasoning + b.reasoning,
      cacheRead: a.cacheRead + b.cacheRead,
      cacheWrite: a.cacheWrite + b.cacheWrite,
      total: a.total + b.total,
    },
    cost: sum.cost + more.cost,
  };
}
