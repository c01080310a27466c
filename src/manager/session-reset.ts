// Reset of a stuck session: its running turn and waiting messages are aborted, the permission
// requests and questions it waits on are rejected, and its opencode conversation is forgotten, so
// the next message starts a new one. The registry record, workspace and turn history stay.
import type { Session } from '../store/session-registry.js';
import type { ManagerCore } from './manager-core.js';
import type { TurnAdmission } from './turn-admission.js';
import type { WarmUps } from './warm-up.js';

const REASON = 'the session was reset';

export async function resetSession(parts: { core: ManagerCore; admission: TurnAdmission; warmUps: WarmUps }, session: Session): Promise<void> {
  const { core, admission, warmUps } = parts;
  const forgotten = session.opencodeSessionId ?? null;
  const pending = core.userRequests.countFor(session.id);
  // Rejected first, so opencode is told before the turn they belong to is aborted.
  await core.userRequests.rejectAll(session.id);
  await admission.abortSession(session.id, REASON);
  await warmUps.settled(session.id);
  core.sessions.setConversation(session, undefined);
  // Its server (isolated) stops, or its pin on a shared slot is given back.
  await core.placement.release(session, 'session_reset');
  core.logger.info('Session reset: its turn and queued messages were aborted and its conversation forgotten', {
    sessionId: session.id,
    opencodeSessionId: forgotten,
    rejectedRequests: pending,
  });
}
