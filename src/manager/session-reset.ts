// Reset of a stuck session: its running turn and waiting messages are aborted, the permission
// requests and questions it waits on are rejected, and its opencode conversation is forgotten, so
// the next message starts a new one. The registry record, workspace and turn history stay.
import type { Logger } from '../logging/logger.js';
import type { Session, SessionRegistry } from '../store/session-registry.js';
import type { Placement } from './placement/placement.js';
import type { TurnAdmission } from './turn-admission.js';
import type { UserRequests } from './user-requests/user-requests.js';
import type { WarmUps } from './warm-up.js';

export interface SessionResetDeps {
  readonly userRequests: Pick<UserRequests, 'countFor' | 'rejectAll'>;
  readonly admission: Pick<TurnAdmission, 'abortSession'>;
  readonly warmUps: Pick<WarmUps, 'settled'>;
  readonly sessions: Pick<SessionRegistry, 'setConversation'>;
  /** Read at each reset: boot chooses the placement after the parts are built. */
  readonly placement: () => Pick<Placement, 'release'>;
  readonly logger: Pick<Logger, 'info'>;
}

const REASON = 'the session was reset';

export async function resetSession(deps: SessionResetDeps, session: Session): Promise<void> {
  const { userRequests, admission, warmUps, sessions, logger } = deps;
  const forgotten = session.opencodeSessionId ?? null;
  const pending = userRequests.countFor(session.id);
  // Rejected first, so opencode is told before the turn they belong to is aborted.
  await userRequests.rejectAll(session.id);
  await admission.abortSession(session.id, REASON);
  await warmUps.settled(session.id);
  sessions.setConversation(session, undefined);
  // Its server (isolated) stops, or its pin on a shared slot is given back.
  await deps.placement().release(session, 'session_reset');
  logger.info('Session reset: its turn and queued messages were aborted and its conversation forgotten', {
    sessionId: session.id,
    opencodeSessionId: forgotten,
    rejectedRequests: pending,
  });
}
