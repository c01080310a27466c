// Reset of a stuck session: its running turn and waiting messages are aborted, the permission
// requests and questions it waits on are rejected, and its opencode conversation is forgotten, so
// the next message starts a new one. The registry record, workspace and turn history stay.
import type { SessionRecord } from '../store/session-registry.js';
import type { ManagerCore } from './manager-core.js';
import type { Sessions } from './sessions.js';
import type { TurnAdmission } from './turn-admission.js';
import type { WarmUps } from './warm-up.js';

const REASON = 'the session was reset';

export async function resetSession(
  parts: { core: ManagerCore; admission: TurnAdmission; sessions: Sessions; warmUps: WarmUps },
  session: SessionRecord,
): Promise<void> {
  const { core, admission, sessions, warmUps } = parts;
  const forgotten = session.opencodeSessionId ?? null;
  const pending = core.userRequests.countFor(session.id);
  // Rejected first, so opencode is told before the turn they belong to is aborted.
  await core.userRequests.rejectAll(session.id);
  await admission.abortSession(session.id, REASON);
  await warmUps.settled(session.id);
  session.opencodeSessionId = undefined;
  await sessions.releaseServer(session, 'session_reset');
  // A shared pool picks the session's slot again at its next message (its pin was given back).
  if (core.runtime?.pool !== undefined && !core.runtime.pool.isolated) session.slot = undefined;
  core.sessions.save(session);
  core.logger.info('Session reset: its turn and queued messages were aborted and its conversation forgotten', {
    sessionId: session.id,
    opencodeSessionId: forgotten,
    rejectedRequests: pending,
  });
}
