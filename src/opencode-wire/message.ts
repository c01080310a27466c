// The answer of `opencode serve` to a message (POST /session/{id}/message): the assistant message
// (`info`) and its parts, read with the same readers as the lines of `opencode run`. A 200 is not
// success: a failed or aborted turn answers 200 with `info.error` (facts doc, trap 5).
import type { SessionPromptResponse } from '@opencode-ai/sdk/v2';
import { isRecord } from '../util/guards.js';
import { errorOf, type WireError } from './errors.js';
import { textOf } from './text.js';
import { usageOf, type WireUsage } from './tokens.js';
import type { Unchecked } from './unchecked.js';

/** The answer as checked: its info an object, its parts the objects among them. */
export interface MessageAnswer {
  readonly info: Record<string, unknown>;
  readonly parts: ReadonlyArray<Record<string, unknown>>;
}

/** The answer in a response body; undefined when it has no info. Parts that are not objects are left out. */
export function messageAnswerOf(body: unknown): MessageAnswer | undefined {
  const value: Unchecked<SessionPromptResponse> | undefined = isRecord(body) ? body : undefined;
  if (value === undefined || !isRecord(value.info)) return undefined;
  return { info: value.info, parts: Array.isArray(value.parts) ? value.parts.filter(isRecord) : [] };
}

/** What an answer says about the turn: what its steps used, the error it ended with, its text. */
export interface AnswerReading {
  readonly usage: WireUsage;
  readonly error: WireError | undefined;
  readonly text: string;
}

export function readAnswer(answer: MessageAnswer): AnswerReading {
  return { usage: usageOf(answer.info), error: errorOf(answer.info.error), text: textOf(answer.parts) };
}
