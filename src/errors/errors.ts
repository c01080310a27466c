// One base error with a stable code; subclasses where callers must tell failures apart.
import type { ErrorCode } from './codes.js';

export class OcpmError extends Error {
  override readonly name: string = 'OcpmError';
  /** Fields the error body carries beside code and message (e.g. a budget error's usage). */
  readonly details: Readonly<Record<string, unknown>> | undefined;
  /**
   * When the caller may try again (a full queue, a rate limit, an unreachable owner): the HTTP error
   * handler sends it as Retry-After, whoever raised the error.
   */
  readonly retryAfterSeconds: number | undefined;
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Readonly<Record<string, unknown>>; retryAfterSeconds?: number },
  ) {
    super(message, options);
    this.details = options?.details;
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}

/** What every failed opencode run carries, so logs and responses can say what happened. */
export interface RunFailureContext {
  readonly pid: number | undefined;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly durationMs: number;
  /** The last lines opencode wrote to stderr (bounded). */
  readonly stderrTail: readonly string[];
}

export class RunFailedError extends OcpmError {
  override readonly name = 'RunFailedError';
  constructor(
    code: 'opencode_failed' | 'opencode_error' | 'empty_response',
    message: string,
    readonly context: RunFailureContext,
  ) {
    super(code, message);
  }
}

export class TurnTimeoutError extends OcpmError {
  override readonly name = 'TurnTimeoutError';
  constructor(
    readonly timeoutMs: number,
    readonly context: RunFailureContext,
  ) {
    super('turn_timeout', `opencode did not finish within ${timeoutMs} ms (pid ${context.pid ?? '?'}); it and its descendants were killed`);
  }
}

export class TurnStalledError extends OcpmError {
  override readonly name = 'TurnStalledError';
  constructor(
    readonly stallMs: number,
    readonly context: RunFailureContext,
  ) {
    super('stall_timeout', `opencode produced no output or event for ${stallMs} ms (pid ${context.pid ?? '?'}); the turn was ended`);
  }
}

export class TurnAbortedError extends OcpmError {
  override readonly name = 'TurnAbortedError';
  constructor(
    readonly reason: string,
    readonly context: RunFailureContext | undefined,
  ) {
    super('aborted', `The turn was aborted: ${reason}`);
  }
}

export class SpawnFailedError extends OcpmError {
  override readonly name = 'SpawnFailedError';
  constructor(message: string, cause: unknown) {
    super('spawn_failed', message, { cause });
  }
}

/** Text for an abort reason given to AbortController.abort(reason). */
export function describeAbortReason(reason: unknown): string {
  if (reason instanceof Error) return reason.message;
  if (typeof reason === 'string' && reason !== '') return reason;
  return 'aborted by caller';
}
