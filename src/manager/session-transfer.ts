// Moving a session to another replica: what leaves (its registry record, its turn history and its
// opencode conversation as `opencode export` prints it) and how it arrives (`opencode import` into
// the data dir the session gets here). The workspace does not move: replicas share it.
import { randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { OcpmError } from '../errors/errors.js';
import type { Logger } from '../logging/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { recordFromTransfer, transferRecord } from '../store/session-fields.js';
import type { Session, SessionRegistry } from '../store/session-registry.js';
import type { TurnStore } from '../store/turn-store.js';
import { errorMessage } from '../util/guards.js';
import { tolerate } from '../util/housekeeping.js';
import { removeTree } from '../util/remove-tree.js';
import type { SessionTransfer } from '../contracts/session.js';

export type { SessionTransfer } from '../contracts/session.js';
import { installConversationDatabase } from './isolation/conversation-database.js';
import type { OpencodeBinary } from './opencode-binary.js';
import type { RunChildren } from './per-message/run-children.js';
import type { Placement } from './placement/placement.js';
import type { TrackedResult } from './process-tree/spawn-tracked.js';

/** What a move uses; the binary, the placement and the environment are read at each move (boot sets them). */
export interface SessionTransferDeps {
  /** Undefined until boot found opencode (and for good when it did not). */
  readonly binary: () => Pick<OpencodeBinary, 'path'> | undefined;
  readonly placement: () => Pick<Placement, 'launch' | 'servingInstance' | 'exportDatabase' | 'importDatabase' | 'prepareHome' | 'dataHome'>;
  readonly childEnv: () => Readonly<Record<string, string>>;
  /** Runs `opencode export` and `opencode import`. */
  readonly children: Pick<RunChildren, 'run'>;
  readonly sessions: Pick<SessionRegistry, 'adopt'>;
  /** The turn history that travels with a session. */
  readonly turns: Pick<TurnStore, 'list' | 'deleteSession' | 'adopt'>;
  /** Where a handoff's scratch data dir goes. */
  readonly dataDir: string;
  /** Log lines, and failures of the scratch dir's removal (counted as housekeeping). */
  readonly logger: Pick<Logger, 'warn' | 'error'>;
  readonly metrics: Pick<Metrics, 'housekeepingErrors'>;
}

/** Turns of history that travel with a session (the store keeps this many). */
const TURNS_MOVED = 100;
/** The largest export accepted (a conversation with long tool outputs). */
const MAX_EXPORT_BYTES = 64 * 1024 * 1024;

function describe(result: TrackedResult): string {
  const tail = result.stderrTail.slice(-3).join(' | ');
  return `${result.termination}, exit ${result.exitCode ?? result.signal ?? '?'}${tail === '' ? '' : `: ${tail}`}`;
}

/** What `opencode export` printed: the JSON document; anything before its first `{` is not part of it. */
const parseExport = (printed: string): unknown => JSON.parse(printed.slice(printed.indexOf('{')));

/** Runs one opencode command for the session, in its sandbox and data dir, and returns its stdout. */
async function runForSession(deps: SessionTransferDeps, session: Session, args: string[], timeoutMs: number, dataHome?: string): Promise<string> {
  const binary = deps.binary();
  if (binary === undefined) throw new OcpmError('opencode_unavailable', 'opencode is unavailable');
  const launch = dataHome === undefined ? await deps.placement().launch(session) : { env: { XDG_DATA_HOME: dataHome }, sandbox: undefined };
  const chunks: string[] = [];
  let size = 0;
  const result = await deps.children.run({
    file: binary.path,
    args,
    workspaceDir: session.workspace,
    env: { ...deps.childEnv(), ...launch.env },
    sandbox: launch.sandbox,
    timeoutMs,
    sessionId: session.id,
    kind: 'cli',
    onStdoutLine: (line) => {
      size += line.length + 1;
      if (size <= MAX_EXPORT_BYTES) chunks.push(line);
    },
  });
  if (result.termination !== 'exit' || result.exitCode !== 0) throw new Error(`opencode ${args[0]} failed (${describe(result)})`);
  if (size > MAX_EXPORT_BYTES) throw new Error(`opencode ${args[0]} printed more than ${MAX_EXPORT_BYTES} bytes`);
  return chunks.join('\n');
}

/**
 * The conversation as `opencode export` prints it: from the server that serves the session when one
 * is ready (no opencode start, which costs seconds), else from `opencode export`.
 */
async function exportConversation(deps: SessionTransferDeps, session: Session, opencodeSessionId: string, timeoutMs: number): Promise<unknown> {
  const client = deps.placement().servingInstance(session)?.client;
  if (client !== undefined) {
    try {
      return await client.exportConversation(opencodeSessionId, session.workspace, timeoutMs);
    } catch (error) {
      deps.logger.warn('Export through the server failed; running opencode export', {
        sessionId: session.id,
        error: errorMessage(error),
      });
    }
  }
  return parseExport(await runForSession(deps, session, ['export', opencodeSessionId], timeoutMs));
}

/** What a peer needs to continue the session. */
export async function exportSession(deps: SessionTransferDeps, session: Session, timeoutMs: number): Promise<SessionTransfer> {
  let conversation: unknown = null;
  // Isolated: the session's database is the conversation; a copy of it needs no opencode start.
  const database = await deps.placement().exportDatabase(session);
  if (session.opencodeSessionId !== undefined && database === undefined) {
    conversation = await exportConversation(deps, session, session.opencodeSessionId, timeoutMs);
  }
  return {
    ...(database === undefined ? {} : { database }),
    record: transferRecord(session),
    turns: deps.turns.list(session.id, TURNS_MOVED),
    conversation,
  };
}

/** A replica without isolation took an isolated session: `opencode export` from its database, in a scratch data dir. */
async function conversationOf(deps: SessionTransferDeps, session: Session, database: string, timeoutMs: number): Promise<unknown> {
  const scratch = path.join(deps.dataDir, 'handoff', randomUUID());
  try {
    await installConversationDatabase(scratch, database);
    return parseExport(await runForSession(deps, session, ['export', session.opencodeSessionId!], timeoutMs, scratch));
  } finally {
    // The export's outcome stands whatever happens to the scratch dir: a failed removal is logged and counted.
    await tolerate(deps, 'tmp_cleanup', () => removeTree(scratch), { sessionId: session.id, what: 'handoff scratch dir' });
  }
}

/** Takes a session a peer handed over: its conversation into this replica's opencode, then its record and history. */
export async function importSession(deps: SessionTransferDeps, transfer: SessionTransfer, timeoutMs: number): Promise<Session> {
  const { record } = transfer;
  const session = recordFromTransfer(record);
  let conversation = transfer.conversation;
  if (transfer.database !== undefined && session.opencodeSessionId !== undefined) {
    // Isolated here: the database becomes the session's own; else its conversation is exported from it.
    conversation = (await deps.placement().importDatabase(session, transfer.database))
      ? null
      : await conversationOf(deps, session, transfer.database, timeoutMs);
  }
  if (conversation !== null && session.opencodeSessionId !== undefined) {
    await deps.placement().prepareHome(session);
    // The data dir is inside the session's sandbox, so the import reads the file from there.
    const dataHome = deps.placement().dataHome(session);
    await mkdir(dataHome, { recursive: true, mode: 0o700 });
    const file = path.join(dataHome, `ocpm-handoff-${session.id}.json`);
    await writeFile(file, JSON.stringify(conversation), { mode: 0o600 });
    try {
      await runForSession(deps, session, ['import', file], timeoutMs);
    } finally {
      await rm(file, { force: true });
    }
  }
  deps.turns.deleteSession(session.id);
  deps.turns.adopt(transfer.turns.map((turn) => ({ ...turn, sessionId: session.id })));
  return deps.sessions.adopt(session);
}
