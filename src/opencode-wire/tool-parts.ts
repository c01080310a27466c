// Tool parts (`tool_use` lines of `opencode run`): which tool calls ended because their permission
// was rejected. `run` cannot ask anyone, so it rejects each `ask` itself: the tool ends in error with
// opencode 1.18.33's "The user rejected permission to use this specific tool call."
import type { ToolPart, ToolStateError } from '@opencode-ai/sdk/v2';
import { isRecord } from '../util/guards.js';
import type { Unchecked } from './unchecked.js';

export interface RejectedTool {
  readonly tool: string;
  /** What the call was for (its command, file, path, pattern or URL), when it says. */
  readonly patterns: string[];
}

const REJECTED_PERMISSION = /rejected permission/i;
const ERROR: ToolStateError['status'] = 'error';
/** Input keys of opencode's tools that name what a call is for, in the order they are looked for. */
const PATTERN_KEYS = ['command', 'filePath', 'path', 'pattern', 'url'] as const;

/** The tool call a tool part says was refused its permission; undefined for any other part. */
export function rejectedTool(value: unknown): RejectedTool | undefined {
  const part: Unchecked<ToolPart> = isRecord(value) ? value : {};
  const state: Unchecked<ToolStateError> = isRecord(part.state) ? part.state : {};
  if (state.status !== ERROR || typeof state.error !== 'string' || !REJECTED_PERMISSION.test(state.error)) return undefined;
  const input: Record<string, unknown> = isRecord(state.input) ? state.input : {};
  const pattern = PATTERN_KEYS.map((key) => input[key]).find((item): item is string => typeof item === 'string');
  return { tool: typeof part.tool === 'string' ? part.tool : 'other', patterns: pattern === undefined ? [] : [pattern] };
}
