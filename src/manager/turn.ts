// What a finished turn answers, in either mode.
import type { TokenUsage } from './per-message/run-events.js';

export type TurnMode = 'per-message' | 'server';

export interface TurnResult {
  readonly sessionId: string;
  readonly text: string;
  readonly opencodeSessionId: string | undefined;
  readonly mode: TurnMode;
  readonly durationMs: number;
  readonly tokens: TokenUsage;
  readonly cost: number;
  /** The opencode process's exit code (per-message mode); null in server mode. */
  readonly exitCode: number | null;
}

/** Splits `provider/model` (the model id may itself contain slashes). */
export function splitModel(model: string): { providerID: string; modelID: string } {
  const slash = model.indexOf('/');
  return { providerID: model.slice(0, slash), modelID: model.slice(slash + 1) };
}
