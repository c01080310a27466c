// The answer's text, from its text parts, in both modes: the `part` of each `text` line of `opencode
// run`, and the `parts` of the message `opencode serve` answers. Parts of one answer are joined by a
// blank line; empty ones and the synthetic ones opencode adds itself are not the model's answer.
import type { TextPart } from '@opencode-ai/sdk/v2';
import { isRecord } from '../util/guards.js';
import type { Unchecked } from './unchecked.js';

const TEXT: TextPart['type'] = 'text';

/** The text of a part that is answer text; undefined for any other part. */
export function answerText(value: unknown): string | undefined {
  const part: Unchecked<TextPart> | undefined = isRecord(value) ? value : undefined;
  if (part?.type !== TEXT || typeof part.text !== 'string' || part.text === '' || part.synthetic === true) return undefined;
  return part.text;
}

/** The answer text of a list of parts (any values), joined by a blank line. */
export function textOf(parts: readonly unknown[]): string {
  return parts
    .map(answerText)
    .filter((text): text is string => text !== undefined)
    .join('\n\n');
}
