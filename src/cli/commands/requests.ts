// The commands for what turns ask people: `pending [session]` (the permission requests and questions a
// turn waits on) and `answer <session> <request> once|always|reject` (a reply to a permission request).
import { CliError, EXIT, oneLine, usageError } from '../cli-error.js';
import type { Command, CommandContext } from '../command.js';
import { printJson, segment } from '../command.js';
import { NONE, formatUntil } from '../format.js';
import { formatTable } from '../table.js';
import type { PendingRequestsView, PermissionRequestView, QuestionRequestView } from '../views.js';
import { allSessions } from './usage.js';
import { PERMISSION_REPLIES, type PermissionReply } from '../../contracts/vocabulary.js';

/** Sessions whose pending requests are read at once, without a session argument. */
const PARALLEL_READS = 8;
/** A request's text in the table is cut here (--json has it whole). */
const MAX_ASKS = 100;

export const pendingCommand: Command = {
  name: 'pending',
  usage: 'pending [session]',
  summary: 'the permission requests and questions turns wait on',
  details: [
    'Reads GET /api/sessions/<session>/pending; without a session, GET /api/sessions (every page) and then the',
    'pending requests of each session that waits on the user. ASKS is a permission and its patterns, or the',
    'questions with their options; EXPIRES is when the service rejects the request unanswered',
    '(OCPM_PERMISSION_TIMEOUT_MS after it was asked). Answer a permission request with `ocpm answer`.',
    'With --json: { "permissions": [ … ], "questions": [ … ] } as the service answers it (merged over the',
    'sessions without a session argument).',
  ],
  options: [],
  arity: 0,
  optionalArity: 1,
  needsToken: true,
  async run(context) {
    const session = context.args[0];
    const pending = session === undefined ? await everySessionsPending(context) : await pendingOf(context, session);
    if (context.json) return printJson(context, pending);
    const entries = [
      ...pending.permissions.map((request) => ({ request, kind: 'permission', asks: permissionText(request) })),
      ...pending.questions.map((request) => ({ request, kind: 'question', asks: questionText(request) })),
    ];
    // Grouped by session (in the order the sessions came), each session's oldest first.
    const sessions = [...new Set(entries.map((entry) => entry.request.sessionId))];
    const rows = sessions.flatMap((id) =>
      entries
        .filter((entry) => entry.request.sessionId === id)
        .sort((a, b) => expiry(a.request) - expiry(b.request))
        .map(({ request, kind, asks }) => [request.sessionId, request.id, kind, cut(asks), formatUntil(expiry(request), context.now)]),
    );
    if (rows.length === 0) {
      context.print(session === undefined ? 'no pending requests' : `no pending requests in session ${session}`);
      return;
    }
    context.print(formatTable(rows, { headers: ['SESSION', 'REQUEST', 'KIND', 'ASKS', 'EXPIRES'] }));
  },
};

export const answerCommand: Command = {
  name: 'answer',
  usage: 'answer <session> <request> once|always|reject',
  summary: 'answer a pending permission request',
  details: [
    'Calls POST /api/sessions/<session>/permissions/<request> with { "reply": "once"|"always"|"reject" }',
    '(<request> is a REQUEST of `ocpm pending`). once allows this call; always allows calls like it for the',
    "rest of the session's opencode conversation; reject refuses it, and --message tells the model why or",
    'what to do instead. Questions are answered through the API (POST /api/sessions/<id>/questions/<request>).',
    'A request answered already is request_already_answered, an unknown one request_not_found (exit 1).',
  ],
  options: [{ name: 'message', value: 'TEXT', help: 'with reject: told to the model (why, or what to do instead)' }],
  arity: 3,
  needsToken: true,
  async run(context) {
    const [session = '', requestId = '', reply = ''] = context.args;
    if (!isReply(reply)) throw usageError(`the reply is one of ${PERMISSION_REPLIES.join(', ')}, got ${JSON.stringify(reply)}`);
    const option = context.options.get('message');
    const message = typeof option === 'string' ? option : undefined;
    if (message !== undefined && reply !== 'reject') throw usageError(`--message goes with reject only (the reply is ${reply})`);
    const body = { reply, ...(message === undefined ? {} : { message }) };
    const answer = await context.api.request('POST', `/api/sessions/${segment(session)}/permissions/${segment(requestId)}`, {}, body);
    if (context.json) return printJson(context, answer);
    const said = message === undefined ? '' : ` (message: ${JSON.stringify(message)})`;
    context.print(`answered permission request ${requestId} of session ${session}: ${reply}${said}`);
  },
};

function isReply(text: string): text is PermissionReply {
  return (PERMISSION_REPLIES as readonly string[]).includes(text);
}

async function pendingOf(context: CommandContext, session: string): Promise<PendingRequestsView> {
  const answer = (await context.api.request('GET', `/api/sessions/${segment(session)}/pending`)) as Partial<PendingRequestsView> | null;
  return { permissions: answer?.permissions ?? [], questions: answer?.questions ?? [] };
}

/** The pending requests of every session that waits on the user, in the sessions list's order. */
async function everySessionsPending(context: CommandContext): Promise<PendingRequestsView> {
  const waiting = (await allSessions(context)).filter((session) => session.waitingOnUser === true);
  const answers: PendingRequestsView[] = [];
  for (let at = 0; at < waiting.length; at += PARALLEL_READS) {
    const batch = waiting.slice(at, at + PARALLEL_READS);
    answers.push(...(await Promise.all(batch.map((session) => pendingOf(context, session.id).catch(goneIsEmpty)))));
  }
  return { permissions: answers.flatMap((answer) => answer.permissions), questions: answers.flatMap((answer) => answer.questions) };
}

/** A session deleted since the list was read waits on nothing. */
function goneIsEmpty(error: unknown): PendingRequestsView {
  if (error instanceof CliError && error.exitCode === EXIT.serviceError && error.code === 'session_not_found') return { permissions: [], questions: [] };
  throw error;
}

/** `bash: git push *` */
function permissionText(request: PermissionRequestView): string {
  const patterns = request.patterns ?? [];
  const permission = request.permission ?? NONE;
  return patterns.length === 0 ? permission : `${permission}: ${patterns.join(', ')}`;
}

/** `Which database? [SQLite, Postgres]`, questions joined by ` / `. */
function questionText(request: QuestionRequestView): string {
  const questions = request.questions ?? [];
  if (questions.length === 0) return NONE;
  return questions
    .map((item) => {
      const labels = (item.options ?? []).map((option) => option.label ?? '').filter((label) => label !== '');
      const text = item.question || item.header || '?';
      return labels.length === 0 ? text : `${text} [${labels.join(', ')}]`;
    })
    .join(' / ');
}

function expiry(request: { expiresAt?: string }): number {
  const at = request.expiresAt === undefined ? Number.NaN : Date.parse(request.expiresAt);
  return Number.isNaN(at) ? Number.POSITIVE_INFINITY : at;
}

function cut(text: string): string {
  const line = oneLine(text);
  return line.length <= MAX_ASKS ? line : `${line.slice(0, MAX_ASKS - 1)}…`;
}
