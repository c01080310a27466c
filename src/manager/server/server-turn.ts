// One turn on a server instance: make sure the session has an opencode session there (created with a
// title, which saves an LLM call), POST its message, stream its bus events, and turn the answer into a
// result. A 200 is not success: failed and aborted turns answer 200 with info.error (trap 5).
import {
  OcpmError,
  RunFailedError,
  TurnAbortedError,
  TurnStalledError,
  TurnTimeoutError,
  describeAbortReason,
  type RunFailureContext,
} from '../../errors/errors.js';
import type { Logger } from '../../logging/logger.js';
import { sessionIdOf, statusOf, type BusEvent } from '../../opencode-wire/bus-events.js';
import { describeError, errorBodyText, isAborted } from '../../opencode-wire/errors.js';
import { readAnswer, type MessageAnswer } from '../../opencode-wire/message.js';
import { askedPermission, askedQuestion, listedRequest, settledRequestId } from '../../opencode-wire/requests.js';
import { errorMessage } from '../../util/guards.js';
import { sessionTitle, splitModel, type TurnInput, type TurnResult } from '../turn.js';
import { lostPermissionError } from '../user-requests/user-requests.js';
import { OpencodeHttpError, neverConnected } from './opencode-client.js';
import { InstanceUnreachableError, type ServerInstance } from './server-instance.js';

export interface ServerTurnInput extends TurnInput<BusEvent> {
  readonly instance: ServerInstance;
  /** How long an abort through the API may take before the HTTP call itself is dropped. */
  readonly abortGraceMs: number;
  /** Bound for creating an opencode session (a new directory costs a bootstrap of a few seconds). */
  readonly createTimeoutMs: number;
  readonly logger: Logger;
}

/** How long a streaming turn waits, after /message answered, for the events that trail it. */
const TRAILING_EVENTS_MS = 2000;
/** Bound on one answer to a permission request or question (opencode answers at once). */
const REPLY_TIMEOUT_MS = 10000;

/** The session's opencode session on the instance: its current one, or a new one created there. */
export async function ensureOpencodeSession(instance: ServerInstance, session: ServerTurnInput['session'], timeoutMs: number): Promise<string> {
  if (session.opencodeSessionId !== undefined) return session.opencodeSessionId;
  const client = instance.client;
  if (client === undefined) throw new OcpmError('not_ready', 'The opencode server is not ready');
  const id = await client.createSession(session.workspace, sessionTitle(session.id), timeoutMs);
  instance.work.touch(session.workspace);
  return id;
}

/** Feeds the turn the permission requests and questions opencode lists for its sessions (after a reconnect). */
async function resyncRequests(input: ServerTurnInput, directory: string, ours: (sessionId: string) => boolean, take: (event: BusEvent) => void): Promise<void> {
  const client = input.instance.client;
  if (client === undefined) return;
  try {
    const [permissions, questions] = await Promise.all([
      client.listPermissions(directory, REPLY_TIMEOUT_MS),
      client.listQuestions(directory, REPLY_TIMEOUT_MS),
    ]);
    for (const [type, items] of [
      ['permission.asked', permissions],
      ['question.asked', questions],
    ] as const) {
      for (const item of items) {
        const listed = listedRequest(type, item);
        if (listed !== undefined && ours(listed.sessionId)) take(listed.event);
      }
    }
  } catch (error) {
    input.logger.warn('Could not list the pending requests after the event stream reconnected', {
      sessionId: input.session.id,
      error: errorMessage(error),
    });
  }
}

/**
 * After an abort, stall or timeout: waits for opencode's idle event (bounded by the abort grace); if it
 * does not come, asks opencode once and aborts again if the session still runs.
 */
async function untilIdle(idle: Promise<void>, sawBusy: boolean, input: ServerTurnInput, opencodeSessionId: string, directory: string): Promise<void> {
  const client = input.instance.client;
  if (client === undefined) return;
  let timer: NodeJS.Timeout | undefined;
  const graceElapsed = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), input.abortGraceMs)));
  const idled = await Promise.race([sawBusy ? idle.then(() => true) : Promise.resolve(false), graceElapsed]);
  clearTimeout(timer);
  if (idled) return;
  try {
    const status = (await client.sessionStatus(directory, input.abortGraceMs))[opencodeSessionId];
    if (status === undefined || status === 'idle') return;
    input.logger.warn('opencode session still busy after the turn ended; aborting it again', { sessionId: input.session.id, status });
    await client.abortSession(opencodeSessionId, directory, input.abortGraceMs);
  } catch (error) {
    input.logger.warn('Could not check that the opencode session is idle', {
      sessionId: input.session.id,
      error: errorMessage(error),
    });
  }
}

/**
 * Runs the turn; throws InstanceUnreachableError when no connection to the instance could be made, so
 * the message was not taken (it died): the caller may send the message elsewhere.
 */
export async function runServerTurn(input: ServerTurnInput): Promise<Omit<TurnResult, 'sessionId'>> {
  try {
    return await runServerTurnOnce(input);
  } catch (error) {
    if (neverConnected(error)) {
      throw new InstanceUnreachableError(`serve-${input.instance.slot} could not be connected to`, { cause: error });
    }
    throw error;
  }
}

async function runServerTurnOnce(input: ServerTurnInput): Promise<Omit<TurnResult, 'sessionId'>> {
  const { instance, session } = input;
  const client = instance.client;
  if (client === undefined) throw new OcpmError('not_ready', 'The opencode server is not ready');
  const startedAt = Date.now();
  const context = (): RunFailureContext => ({ pid: instance.pid, exitCode: null, signal: null, durationMs: Date.now() - startedAt, stderrTail: [] });

  let opencodeSessionId = await ensureOpencodeSession(instance, session, input.createTimeoutMs);
  if (session.opencodeSessionId !== opencodeSessionId) input.onConversation(opencodeSessionId);
  const directory = session.workspace;
  const body = {
    parts: [{ type: 'text' as const, text: input.message }],
    ...(input.model === undefined ? {} : { model: splitModel(input.model) }),
    ...(input.agent === undefined ? {} : { agent: input.agent }),
  };

  const { requests } = input;
  // Why the turn is being ended early, if it is: our own timeout, a stall, or the caller's abort.
  let ending: { kind: 'timeout' } | { kind: 'stall' } | { kind: 'abort'; reason: unknown } | undefined;
  const http = new AbortController();
  const end = (reason: NonNullable<typeof ending>): void => {
    if (ending !== undefined) return;
    ending = reason;
    if (reason.kind === 'stall') {
      input.logger.warn('Turn stalled: no opencode event in time; ending it', {
        sessionId: session.id,
        instance: instance.slot,
        stallTimeoutMs: input.stallTimeoutMs,
      });
    }
    // Nobody may answer the turn's requests any more; then the API abort also ends its tool processes.
    void requests.rejectAll();
    client.abortSession(opencodeSessionId, directory, input.abortGraceMs).catch((error: unknown) => {
      input.logger.warn('Abort through the opencode API failed', { instance: instance.slot, error: errorMessage(error) });
    });
    // The HTTP call is dropped only if it hangs past the grace.
    setTimeout(() => http.abort(new Error('abort grace elapsed')), input.abortGraceMs).unref();
  };
  const timer = setTimeout(() => end({ kind: 'timeout' }), input.timeoutMs);
  // No event for stallTimeoutMs ends the turn, except while it waits on a person (the permission timeout bounds that).
  let stallTimer: NodeJS.Timeout | undefined;
  const armStall = (): void => {
    clearTimeout(stallTimer);
    stallTimer = input.stallTimeoutMs > 0 && !requests.waiting ? setTimeout(() => end({ kind: 'stall' }), input.stallTimeoutMs) : undefined;
  };
  armStall();
  requests.onWaitingChange(armStall);
  const onAbort = (): void => end({ kind: 'abort', reason: input.signal.reason });
  const throwIfEnded = (): void => {
    if (ending?.kind === 'timeout') throw new TurnTimeoutError(input.timeoutMs, context());
    if (ending?.kind === 'stall') throw new TurnStalledError(input.stallTimeoutMs, context());
    if (ending?.kind === 'abort') throw new TurnAbortedError(describeAbortReason(ending.reason), context());
  };
  input.signal.addEventListener('abort', onAbort, { once: true });
  if (input.signal.aborted) onAbort();

  /** A permission request or question of the turn (or of one of its subagents) goes to the turn's requests. */
  const takeRequest = (event: BusEvent): void => {
    const permission = askedPermission(event);
    if (permission !== undefined) {
      requests.permissionAsked(permission, {
        reply: (reply, message) => client.replyPermission(permission.id, directory, reply, message, REPLY_TIMEOUT_MS),
      });
      return;
    }
    const question = askedQuestion(event);
    if (question !== undefined) {
      requests.questionAsked(question, {
        reply: (answers) => client.replyQuestion(question.id, directory, answers, REPLY_TIMEOUT_MS),
        reject: () => client.rejectQuestion(question.id, directory, REPLY_TIMEOUT_MS),
      });
      return;
    }
    const settled = settledRequestId(event);
    if (settled !== undefined) requests.settledByOpencode(settled);
  };

  instance.work.begin(opencodeSessionId, directory);
  // /message can answer before the bus has delivered the turn's last parts: a streaming client gets
  // `done` only after the turn's idle event (or a short bound), so parts always precede it.
  let onIdle!: () => void;
  const idle = new Promise<void>((resolve) => (onIdle = resolve));
  // The previous turn's idle can arrive late: only an idle after this turn's busy counts.
  let sawBusy = false;
  const forward = (event: BusEvent): void => {
    stallTimer?.refresh();
    takeRequest(event);
    // A subagent's own events keep the turn alive but are not the turn's parts or status.
    if (sessionIdOf(event) !== opencodeSessionId) return;
    input.onEvent?.(event);
    const status = statusOf(event);
    if (status === 'busy') sawBusy = true;
    else if (status === 'idle' && sawBusy) onIdle();
  };
  let unsubscribe = instance.events?.subscribe(opencodeSessionId, forward);
  // A request asked while the event stream was cut is only in opencode's lists: read them on reconnect.
  const stopResync = instance.events?.onReconnect(() => {
    void resyncRequests(input, directory, (id) => instance.events?.belongsTo(id, opencodeSessionId) === true, takeRequest);
  });
  try {
    let answer: MessageAnswer;
    try {
      answer = await client.sendMessage(opencodeSessionId, directory, body, http.signal);
    } catch (error) {
      if (error instanceof OpencodeHttpError && error.status === 404 && ending === undefined) {
        // The instance's database no longer has this session (a wiped data dir): start a new one.
        input.logger.warn('opencode no longer knows this session; starting a new conversation', { sessionId: session.id });
        unsubscribe?.();
        const lost = opencodeSessionId;
        opencodeSessionId = await ensureOpencodeSession(instance, { ...session, opencodeSessionId: undefined }, input.createTimeoutMs);
        instance.work.move(lost, opencodeSessionId, directory);
        input.onConversation(opencodeSessionId);
        unsubscribe = instance.events?.subscribe(opencodeSessionId, forward);
        answer = await client.sendMessage(opencodeSessionId, directory, body, http.signal);
      } else {
        throw error;
      }
    }
    if (input.onEvent !== undefined && ending === undefined) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([idle, new Promise((resolve) => (timer = setTimeout(resolve, TRAILING_EVENTS_MS)))]);
      clearTimeout(timer);
    }
    // An aborted or failed message carries what its steps used so far, too.
    const { usage, error: failure, text } = readAnswer(answer);
    input.onUsage(usage.tokens, usage.cost);
    throwIfEnded();
    if (failure !== undefined) {
      if (isAborted(failure) && instance.stopReason !== undefined) {
        throw new RunFailedError('opencode_failed', `The turn was ended because ${instance.stopReason}`, context());
      }
      throw new RunFailedError('opencode_error', `opencode reported an error: ${describeError(failure)}`, context());
    }
    // A rejected permission ends opencode's turn with no text and no error: say which one it was.
    if (text === '' && requests.lostPermissions.length > 0) throw lostPermissionError(requests.lostPermissions);
    if (text === '') throw new RunFailedError('empty_response', 'opencode finished without an answer', context());
    return {
      text,
      opencodeSessionId,
      mode: 'server',
      durationMs: Date.now() - startedAt,
      tokens: usage.tokens,
      cost: usage.cost,
      exitCode: null,
    };
  } catch (error) {
    if (error instanceof OcpmError) throw error;
    if (neverConnected(error) && ending === undefined) {
      instance.markSuspect();
      throw error;
    }
    if (error instanceof OpencodeHttpError && ending === undefined && error.status < 502) {
      // opencode refused the turn (a bad model or agent answers 500 with { name, data.message }).
      throw new RunFailedError('opencode_error', `opencode refused the turn: ${errorBodyText(error.bodyText) ?? `HTTP ${error.status}`}`, context());
    }
    throwIfEnded();
    // Not an answer from opencode but a broken connection: do not trust the instance until it answers a health check.
    if (!(error instanceof OpencodeHttpError)) instance.markSuspect();
    const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : '';
    const why = instance.stopReason ?? `${errorMessage(error)}${cause}`;
    throw new RunFailedError('opencode_failed', `The opencode server (serve-${instance.slot}) failed during the turn: ${why}`, context());
  } finally {
    clearTimeout(timer);
    clearTimeout(stallTimer);
    requests.onWaitingChange(() => undefined);
    input.signal.removeEventListener('abort', onAbort);
    // An ended turn leaves opencode's session idle before the next message may start there.
    if (ending !== undefined) await untilIdle(idle, sawBusy, input, opencodeSessionId, directory);
    unsubscribe?.();
    stopResync?.();
    instance.work.end(opencodeSessionId, directory);
  }
}
