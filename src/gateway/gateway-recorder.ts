// What the gateway reports about its model calls: how each ended, how long it took, what was refused
// before going upstream, the providers' error answers, and what each settled call used. Declared here
// so the gateway depends on these facts only; the metrics module provides the implementation.
import type { ModelCallOutcome } from '../metrics/gateway-metrics.js';
import type { UsageTokens } from '../usage/usage.js';

export interface GatewayRecorder {
  /** The providers the gateway proxies, known at its start: their series exist before the first call. */
  providersKnown(providers: readonly string[]): void;
  /** A call ended or was refused; `model` is its model label (a configured model, else `other`). */
  called(provider: string, model: string, outcome: ModelCallOutcome): void;
  /** Seconds from the call's start to the first byte of its answer, or to its end. */
  timed(provider: string, phase: 'first_byte' | 'total', seconds: number): void;
  /** A call refused before it went upstream: its worst case would cross a budget, or the call rate limit. */
  refused(reason: 'budget' | 'rate'): void;
  /** An error answer of the provider, or no answer at all (`connect`). */
  upstreamFailed(provider: string, status: number | 'connect'): void;
  /** The tokens and cost of a settled call, by its model label. */
  used(model: string, tokens: UsageTokens, cost: number): void;
}
