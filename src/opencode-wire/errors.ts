// opencode's errors, one reader for every place they arrive: an assistant message's `info.error` (the
// answer of `opencode serve`), the `error` of an `opencode run` error line and of a `session.error`
// bus event (run relays that event), and the body of a refused request. All are the SDK's named
// errors, `{ name, data: { message, … } }`.
import type { AssistantMessage, MessageAbortedError } from '@opencode-ai/sdk/v2';
import { isRecord } from '../util/guards.js';
import type { Unchecked } from './unchecked.js';

type OpencodeError = NonNullable<AssistantMessage['error']>;
/** The SDK's named error, and a plain error's top-level `message` (read when `data.message` is missing). */
type ErrorShape = Unchecked<OpencodeError> & { readonly message?: unknown };

export interface WireError {
  /** The error's name ('Error' when it has none). */
  readonly name: string;
  readonly message: string | undefined;
}

/** The error a value holds; undefined when it is not an object (no error). */
export function errorOf(value: unknown): WireError | undefined {
  if (!isRecord(value)) return undefined;
  const error: ErrorShape = value;
  const data: Unchecked<OpencodeError['data']> = isRecord(error.data) ? error.data : {};
  const name = typeof error.name === 'string' ? error.name : 'Error';
  const message = typeof data.message === 'string' ? data.message : typeof error.message === 'string' ? error.message : undefined;
  return { name, message };
}

/** "name: message", or the name alone when there is no message. */
export function describeError(error: WireError): string {
  return error.message === undefined ? error.name : `${error.name}: ${error.message}`;
}

/** The text of an error opencode reported (an error line's or event's `error`), whatever its shape. */
export function errorText(value: unknown): string {
  const error = errorOf(value);
  return error === undefined ? 'opencode reported an error' : describeError(error);
}

const ABORTED: MessageAbortedError['name'] = 'MessageAbortedError';

/** True for the error of a message that was aborted (through the API, or because its server stopped). */
export function isAborted(error: WireError): boolean {
  return error.name === ABORTED;
}

/** The named error in the body of a refused request (a bad model or agent answers 500 with one), described; else undefined. */
export function errorBodyText(bodyText: string): string | undefined {
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    return undefined;
  }
  const error = isRecord(body) && typeof body.name === 'string' ? errorOf(body) : undefined;
  return error === undefined ? undefined : describeError(error);
}
