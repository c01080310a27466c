// The sessions the web app registered, and the rules every entry point applies to them: one
// workspace per session (none inside or around another's unless OCPM_ALLOW_SHARED_WORKSPACES), no
// workspace change under a running turn; and what deleting and purging a session removes.
import path from 'node:path';
import { OcpmError } from '../errors/errors.js';
import type { ModelGateway } from '../gateway/model-gateway.js';
import type { Logger } from '../logging/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Session, SessionRegistry } from '../store/session-registry.js';
import { sharedFields } from '../store/session-fields.js';
import type { TurnStore } from '../store/turn-store.js';
import { tolerate } from '../util/housekeeping.js';
import { removeTree } from '../util/remove-tree.js';
import type { SessionState, SessionView } from './manager-types.js';
import type { Placement } from './placement/placement.js';
import type { UserRequests } from './user-requests/user-requests.js';

export interface SessionsDeps {
  /** The registered sessions' records. */
  readonly sessions: Pick<SessionRegistry, 'get' | 'upsert' | 'list' | 'delete'>;
  /** OCPM_ALLOW_SHARED_WORKSPACES. */
  readonly allowSharedWorkspaces: boolean;
  readonly userRequests: Pick<UserRequests, 'countFor'>;
  /** Its session keys are revoked with the session; undefined when off. */
  readonly gateway: Pick<ModelGateway, 'revoke'> | undefined;
  /** Read at each removal: boot chooses the placement after the parts are built. */
  readonly placement: () => Pick<Placement, 'release' | 'purgeConversation'>;
  /** The turn history, which a purge deletes. */
  readonly turns: Pick<TurnStore, 'deleteSession'>;
  /** A purge's log lines and failures (counted as housekeeping). */
  readonly logger: Pick<Logger, 'warn' | 'error'>;
  readonly metrics: Pick<Metrics, 'housekeepingErrors'>;
  /** Whether the session runs a turn now, and whether messages of it wait in the queue. */
  readonly isBusy: (sessionId: string) => boolean;
  readonly isQueued: (sessionId: string) => boolean;
}

/** A session's state from what it is doing now; waiting on a person outranks running, running outranks waiting in the queue. */
export function sessionState(activity: { readonly pendingUserRequests: number; readonly busy: boolean; readonly queued: boolean }): SessionState {
  if (activity.pendingUserRequests > 0) return 'waiting_on_user';
  if (activity.busy) return 'busy';
  return activity.queued ? 'queued' : 'idle';
}

export class Sessions {
  constructor(private readonly deps: SessionsDeps) {}

  /** Creates the session or moves it to `workspace`, after the workspace and busy checks. */
  upsert(id: string, workspace: string): { session: Session; created: boolean } {
    const { sessions, allowSharedWorkspaces } = this.deps;
    if (this.deps.isBusy(id) && sessions.get(id)?.workspace !== workspace) {
      throw new OcpmError('session_busy', `Session ${id} is running a turn; its workspace cannot change now`);
    }
    if (!allowSharedWorkspaces) this.assertWorkspaceFree(id, workspace);
    return sessions.upsert(id, workspace);
  }

  /** An agent in a directory can edit everything under it: overlapping workspaces are refused. */
  private assertWorkspaceFree(id: string, workspace: string): void {
    const overlaps = (a: string, b: string): boolean => a === b || a.startsWith(`${b}${path.sep}`) || b.startsWith(`${a}${path.sep}`);
    const other = this.deps.sessions.list().find((session) => session.id !== id && overlaps(session.workspace, workspace));
    if (other !== undefined) {
      throw new OcpmError('workspace_in_use', 'Another session uses this workspace, or one inside or around it (OCPM_ALLOW_SHARED_WORKSPACES=true allows it)');
    }
  }

  view(session: Session): SessionView {
    const busy = this.deps.isBusy(session.id);
    const pendingUserRequests = this.deps.userRequests.countFor(session.id);
    return {
      ...sharedFields(session),
      busy,
      waitingOnUser: pendingUserRequests > 0,
      pendingUserRequests,
      state: sessionState({ pendingUserRequests, busy, queued: this.deps.isQueued(session.id) }),
    };
  }

  /** Forgets a session whose turns have ended, and frees what its server held for it. */
  async remove(session: Session): Promise<void> {
    this.deps.sessions.delete(session.id);
    this.deps.gateway?.revoke(session.id);
    await this.deps.placement().release(session, 'session_deleted');
  }

  /**
   * Deletes what a removed session left on disk: its workspace, its turn history and its opencode
   * conversation (see the placement's purgeConversation). Directories are removed without following a
   * link out of them (the agent wrote them); a removal that fails is logged and counted (`purge`) and
   * the rest of the purge goes on.
   */
  async purge(session: Session): Promise<void> {
    const { deps } = this;
    deps.turns.deleteSession(session.id);
    // A workspace another session still uses (OCPM_ALLOW_SHARED_WORKSPACES) stays.
    if (deps.sessions.list().some((other) => other.workspace === session.workspace)) {
      deps.logger.warn('Purge kept the workspace: another session uses it', { sessionId: session.id });
    } else {
      await tolerate(deps, 'purge', () => removeTree(session.workspace), { sessionId: session.id, what: 'workspace' });
    }
    await deps.placement().purgeConversation(session);
  }
}
