// One turn as one `opencode run --format json` process: the message on stdin (closed), the JSON event
// lines folded into a result, and every way the run can fail mapped to an error with a stable code.
import {
  OcpmError,
  RunFailedError,
  TurnAbortedError,
  TurnStalledError,
  TurnTimeoutError,
  describeAbortReason,
  type RunFailureContext,
} from '../../errors/errors.js';
import type { TrackedResult } from '../process-tree/spawn-tracked.js';
import { sessionTitle, type TurnInput, type TurnResult } from '../turn.js';
import { lostPermissionError } from '../user-requests/user-requests.js';
import type { OpencodeEvent } from '../../opencode-wire/run-events.js';
import { RunEventCollector } from './run-events.js';

export interface PerMessageTurnInput extends TurnInput<OpencodeEvent> {
  /** Spawns and follows the process (the manager's executeStandalone). */
  readonly execute: (args: string[], stdin: string, onStdoutLine: (line: string) => void) => Promise<TrackedResult>;
}

export function runArgs(session: PerMessageTurnInput['session'], model: string | undefined, agent: string | undefined, autoApprove = false): string[] {
  const args = ['run', '--format', 'json', '--dir', session.workspace];
  // A title saves opencode an LLM call per new session (facts doc, trap 8).
  if (session.opencodeSessionId === undefined) args.push('--title', sessionTitle(session.id));
  else args.push('--session', session.opencodeSessionId);
  if (model !== undefined) args.push('--model', model);
  if (agent !== undefined) args.push('--agent', agent);
  // `run` cannot forward a request to anyone: it rejects asks itself, unless told to approve them.
  if (autoApprove) args.push('--auto');
  // Warnings and errors as logfmt lines on stderr (stdout is unchanged): the only place the real
  // cause of a model error appears ("ProviderModelNotFoundError: Model not found: …").
  args.push('--print-logs', '--log-level=WARN');
  return args;
}

export async function runPerMessageTurn(input: PerMessageTurnInput): Promise<Omit<TurnResult, 'sessionId'>> {
  const { session } = input;
  const collector = new RunEventCollector();
  let reported = session.opencodeSessionId;
  const result = await input.execute(runArgs(session, input.model, input.agent, input.requests.policy === 'allow'), input.message, (line) => {
    const event = collector.add(line);
    if (event === undefined) return;
    // Saved as soon as known: a crash mid-turn must not lose the conversation it started.
    const started = collector.summary.opencodeSessionId;
    if (started !== undefined && started !== reported) {
      reported = started;
      input.onConversation(started);
    }
    input.onEvent?.(event);
  });
  const summary = collector.summary;
  input.onUsage(summary.tokens, summary.cost);
  for (const rejected of summary.rejectedTools) input.requests.rejectedByRun(rejected.tool, rejected.patterns);
  const context: RunFailureContext = {
    pid: result.pid,
    exitCode: result.exitCode,
    signal: result.signal,
    durationMs: result.durationMs,
    stderrTail: result.stderrTail,
  };
  if (result.termination === 'timeout') throw new TurnTimeoutError(input.timeoutMs, context);
  if (result.termination === 'stall') throw new TurnStalledError(input.stallTimeoutMs, context);
  if (result.termination === 'abort') throw new TurnAbortedError(describeAbortReason(result.abortReason), context);
  const modelError = modelNotFound(result.stderrTail);
  if (modelError !== undefined) throw new OcpmError('invalid_model', `opencode: ${modelError}`);
  if (summary.errorMessage !== undefined) {
    throw new RunFailedError('opencode_error', `opencode reported an error: ${summary.errorMessage}`, context);
  }
  if (result.exitCode !== 0) {
    const tail = result.stderrTail.slice(-5).join('\n');
    const how = result.signal !== null ? `was killed by ${result.signal}` : `exited with code ${String(result.exitCode)}`;
    throw new RunFailedError('opencode_failed', `opencode ${how}${tail === '' ? '' : `: ${tail}`}`, context);
  }
  if (summary.text === '' && input.requests.lostPermissions.length > 0) throw lostPermissionError(input.requests.lostPermissions);
  if (summary.text === '') {
    throw new RunFailedError('empty_response', `opencode finished without an answer (${summary.events} events)`, context);
  }
  return {
    text: summary.text,
    opencodeSessionId: summary.opencodeSessionId ?? session.opencodeSessionId,
    mode: 'per-message',
    durationMs: result.durationMs,
    tokens: summary.tokens,
    cost: summary.cost,
    exitCode: result.exitCode,
  };
}

/** opencode's own reason for an unknown model, from its stderr log lines (`--print-logs`). */
export function modelNotFound(stderrTail: readonly string[]): string | undefined {
  for (const line of stderrTail) {
    const match = /ProviderModelNotFoundError: (Model not found: [^"\\]*)/.exec(line);
    if (match?.[1] !== undefined) return match[1].trim();
  }
  return undefined;
}
