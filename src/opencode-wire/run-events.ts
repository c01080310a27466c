// The JSON event lines of `opencode run --format json` (opencode 1.18.33):
// {"type":"step_start"|"text"|"tool_use"|"step_finish"|"reasoning"|"error", "timestamp", "sessionID",
// "part"|"error"}. Each `part` is an SDK part (TextPart, ToolPart, StepFinishPart…) and `error` is
// the SDK's named error of `session.error`: read by the same readers as the server's answers.
import { isRecord } from '../util/guards.js';
import { errorText } from './errors.js';
import { usageOf, type WireUsage } from './tokens.js';
import { rejectedTool, type RejectedTool } from './tool-parts.js';

/** One event line, as checked: a string type and, when present, a string session id; the rest as sent. */
export interface OpencodeEvent {
  readonly type: string;
  readonly sessionID?: string;
  readonly [key: string]: unknown;
}

function isRunEvent(value: unknown): value is OpencodeEvent {
  return isRecord(value) && typeof value.type === 'string' && (value.sessionID === undefined || typeof value.sessionID === 'string');
}

/** Parses one stdout line; undefined when it is not a JSON event object. */
export function parseEventLine(line: string): OpencodeEvent | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(trimmed);
    return isRunEvent(value) ? value : undefined;
  } catch {
    // Not JSON: opencode or a tool printed something else.
    return undefined;
  }
}

/** What one event line says about the turn (undefined: nothing the turn's result takes). */
export type RunEventReading =
  /** A part of the answer (`text`): its text is read with the others' (textOf), as in server mode. */
  | { readonly kind: 'text'; readonly part: unknown }
  /** The tokens and cost of one step (`step_finish`); a turn's steps add up. */
  | { readonly kind: 'usage'; readonly usage: WireUsage }
  /** An error opencode reported (`error`), described as "name: message". */
  | { readonly kind: 'error'; readonly message: string }
  /** A tool call whose permission `run` rejected (`tool_use`). */
  | { readonly kind: 'rejected'; readonly tool: RejectedTool }
  | undefined;

export function readRunEvent(event: OpencodeEvent): RunEventReading {
  const part = isRecord(event.part) ? event.part : undefined;
  switch (event.type) {
    case 'text':
      return { kind: 'text', part };
    case 'step_finish':
      return { kind: 'usage', usage: usageOf(part) };
    case 'error':
      return { kind: 'error', message: errorText(event.error) };
    case 'tool_use': {
      const tool = rejectedTool(part);
      return tool === undefined ? undefined : { kind: 'rejected', tool };
    }
    default:
      return undefined;
  }
}
