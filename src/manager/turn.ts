// What a finished turn answers, in either mode.
import type { SessionRecord } from '../store/session-registry.js';
import type { TokenUsage } from '../usage/usage.js';
import type { TurnRequests } from './user-requests/user-requests.js';

export { REFUSAL_CODES, REJECT_REASONS, TURN_MODES, TURN_OUTCOMES, type TurnMode, type TurnOutcome } from '../contracts/vocabulary.js';
import type { TurnMode } from '../contracts/vocabulary.js';

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

/** The title of the opencode session a session's turns run in, in either mode. */
export function sessionTitle(sessionId: string): string {
  return `Session ${sessionId}`;
}

/** Splits `provider/model` (the model id may itself contain slashes). */
export function splitModel(model: string): { providerID: string; modelID: string } {
  const slash = model.indexOf('/');
  return { providerID: model.slice(0, slash), modelID: model.slice(slash + 1) };
}

/** What a turn needs in either mode; each mode adds its own. */
export interface TurnInput<Event> {
  /** The session as the turn starts; a turn never changes it, it reports changes through onConversation. */
  readonly session: Pick<Readonly<SessionRecord>, 'id' | 'workspace' | 'opencodeSessionId'>;
  readonly message: string;
  readonly model?: string;
  readonly agent?: string;
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
  /** Ends the turn when opencode prints nothing (per-message) or sends no event (server) for this long; 0: never. */
  readonly stallTimeoutMs: number;
  readonly onEvent?: (event: Event) => void;
  /** The turn's permission requests and questions: forwarded to a person or answered by the policy. */
  readonly requests: TurnRequests;
  /**
   * Called as soon as the turn starts a new opencode conversation (or finds its old one gone), with its
   * id, so the caller can save it at once: a crash mid-turn must not lose the conversation.
   */
  readonly onConversation: (opencodeSessionId: string) => void;
  /**
   * What opencode reported the turn used, whatever its outcome: called before the turn answers or
   * fails, so a turn that timed out, was aborted or failed after some steps still counts them.
   */
  readonly onUsage: (tokens: TokenUsage, cost: number) => void;
}
