// Folds the JSON event lines of `opencode run --format json` into one turn result.
// Line shapes (facts doc): {"type":"step_start"|"text"|"tool_use"|"step_finish"|"reasoning"|"error",
// "timestamp", "sessionID", "part"|"error"}.
import { emptyTokens, type TokenUsage } from '../../usage/usage.js';
import { isRecord } from '../../util/guards.js';

export interface OpencodeEvent {
  readonly type: string;
  readonly sessionID?: string;
  readonly [key: string]: unknown;
}

export interface RunEventSummary {
  text: string;
  opencodeSessionId: string | undefined;
  tokens: TokenUsage;
  cost: number;
  /** The first error event's message, if opencode reported one. */
  errorMessage: string | undefined;
  events: number;
  /** Lines that were not JSON events (kept as a count; their text may be anything). */
  unparsedLines: number;
  /** Tool calls `run` refused because their permission resolved to `ask` (it cannot ask anyone) or `deny`. */
  rejectedTools: Array<{ tool: string; patterns: string[] }>;
}

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** Parses one stdout line; undefined when it is not a JSON event object. */
export function parseEventLine(line: string): OpencodeEvent | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(trimmed);
    if (isRecord(value) && typeof value.type === 'string') return value as OpencodeEvent;
  } catch {
    // Not JSON: opencode or a tool printed something else.
  }
  return undefined;
}

function describeError(error: unknown): string {
  if (!isRecord(error)) return 'opencode reported an error';
  const data = isRecord(error.data) ? error.data : {};
  const message = typeof data.message === 'string' ? data.message : typeof error.message === 'string' ? error.message : undefined;
  const name = typeof error.name === 'string' ? error.name : 'Error';
  return message === undefined ? name : `${name}: ${message}`;
}

/** The error text opencode 1.18.33 gives a tool call whose permission was rejected. */
const REJECTED_PERMISSION = /rejected permission/i;

export class RunEventCollector {
  private readonly texts: string[] = [];
  readonly summary: RunEventSummary = {
    text: '',
    opencodeSessionId: undefined,
    tokens: emptyTokens(),
    cost: 0,
    errorMessage: undefined,
    events: 0,
    unparsedLines: 0,
    rejectedTools: [],
  };

  /** Feeds one line; returns the event when the line was one. */
  add(line: string): OpencodeEvent | undefined {
    const event = parseEventLine(line);
    if (event === undefined) {
      if (line.trim() !== '') this.summary.unparsedLines += 1;
      return undefined;
    }
    this.summary.events += 1;
    if (typeof event.sessionID === 'string' && this.summary.opencodeSessionId === undefined) {
      this.summary.opencodeSessionId = event.sessionID;
    }
    const part = isRecord(event.part) ? event.part : {};
    switch (event.type) {
      case 'text':
        if (typeof part.text === 'string' && part.text !== '') this.texts.push(part.text);
        this.summary.text = this.texts.join('\n\n');
        break;
      case 'step_finish':
        this.addUsage(part);
        break;
      case 'error':
        this.summary.errorMessage ??= describeError(event.error);
        break;
      case 'tool_use':
        this.noteRejectedTool(part);
        break;
      default:
        break;
    }
    return event;
  }

  /** `run` rejects every `ask` itself: the tool ends in error with "The user rejected permission…". */
  private noteRejectedTool(part: Record<string, unknown>): void {
    const state = isRecord(part.state) ? part.state : {};
    if (state.status !== 'error' || typeof state.error !== 'string' || !REJECTED_PERMISSION.test(state.error)) return;
    const input = isRecord(state.input) ? state.input : {};
    const pattern = [input.command, input.filePath, input.path, input.pattern, input.url].find((value): value is string => typeof value === 'string');
    this.summary.rejectedTools.push({ tool: typeof part.tool === 'string' ? part.tool : 'other', patterns: pattern === undefined ? [] : [pattern] });
  }

  private addUsage(part: Record<string, unknown>): void {
    this.summary.cost += num(part.cost);
    const tokens = isRecord(part.tokens) ? part.tokens : undefined;
    if (tokens === undefined) return;
    const cache = isRecord(tokens.cache) ? tokens.cache : {};
    const t = this.summary.tokens;
    t.input += num(tokens.input);
    t.output += num(tokens.output);
    t.reasoning += num(tokens.reasoning);
    t.cacheRead += num(cache.read);
    t.cacheWrite += num(cache.write);
    t.total += num(tokens.total) || num(tokens.input) + num(tokens.output) + num(tokens.reasoning);
  }
}
