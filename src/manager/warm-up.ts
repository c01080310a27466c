// Server mode: a registered session's opencode session (or, isolated, its own server) is made ready
// in the background, and what a first prompt in its workspace loads (config, providers, agents…) is
// read ahead, so its first message does not pay the per-directory bootstrap. A turn of the session
// waits for its warm-up first; a delete waits for it too.
import type { Logger } from '../logging/logger.js';
import type { Session, SessionRegistry } from '../store/session-registry.js';
import { errorMessage } from '../util/guards.js';
import type { Lifecycle } from './lifecycle.js';
import type { Placement } from './placement/placement.js';
import { ensureOpencodeSession } from './server/server-turn.js';
import type { ServerInstance } from './server/server-instance.js';

export interface WarmUpDeps {
  readonly lifecycle: Pick<Lifecycle, 'state'>;
  /** Read at each warm-up: boot chooses the placement after the parts are built. */
  readonly placement: () => Pick<Placement, 'warmUpLease'>;
  readonly sessions: Pick<SessionRegistry, 'setConversation'>;
  readonly logger: Pick<Logger, 'debug' | 'warn'>;
  readonly serverStartTimeoutMs: number;
  /** False while the service cannot answer (no provider, a broken config): no server starts for a session then. */
  readonly ready: () => boolean;
}

export class WarmUps {
  private readonly running = new Map<string, Promise<unknown>>();

  constructor(private readonly deps: WarmUpDeps) {}

  /** Resolves when the session's warm-up (if any) has ended, whatever its outcome. */
  async settled(sessionId: string): Promise<void> {
    await this.running.get(sessionId)?.catch(() => undefined);
  }

  start(session: Session): void {
    const { deps } = this;
    // No server starts for a session while the service cannot answer (no provider, a broken config).
    if (deps.lifecycle.state !== 'ready' || !deps.ready() || this.running.has(session.id)) return;
    const leasing = deps.placement().warmUpLease(session);
    if (leasing === undefined) return;
    this.track(
      session,
      leasing.then(async (lease) => {
        if (lease === undefined) return;
        try {
          await this.warm(lease.instance, session);
        } finally {
          lease.release();
        }
      }),
    );
  }

  /** The session's conversation exists, and what its first prompt would load is loaded (no model call). */
  private async warm(instance: ServerInstance, session: Session): Promise<void> {
    const timeoutMs = this.deps.serverStartTimeoutMs;
    if (session.opencodeSessionId === undefined) this.deps.sessions.setConversation(session, await ensureOpencodeSession(instance, session, timeoutMs));
    await instance.client?.warmDirectory(session.workspace, timeoutMs);
  }

  private track(session: Session, warming: Promise<void>): void {
    const { logger } = this.deps;
    const done = warming
      .then(() => logger.debug('Session warmed up', { sessionId: session.id }))
      .catch((error: unknown) => logger.warn('Session warm-up failed', { sessionId: session.id, error: errorMessage(error) }))
      .finally(() => this.running.delete(session.id));
    this.running.set(session.id, done);
  }
}
