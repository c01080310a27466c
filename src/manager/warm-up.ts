// Server mode: a registered session's opencode session (or, isolated, its own server) is made ready
// in the background, so its first message does not pay the per-directory bootstrap. A turn of the
// session waits for its warm-up first; a delete waits for it too.
import { errorMessage } from '../util/guards.js';
import { configurationProblem } from './readiness.js';
import type { Session } from '../store/session-registry.js';
import type { ManagerCore } from './manager-core.js';
import { ensureOpencodeSession } from './server/server-turn.js';
import type { ServerInstance } from './server/server-instance.js';

export class WarmUps {
  private readonly running = new Map<string, Promise<unknown>>();

  constructor(private readonly core: ManagerCore) {}

  /** Resolves when the session's warm-up (if any) has ended, whatever its outcome. */
  async settled(sessionId: string): Promise<void> {
    await this.running.get(sessionId)?.catch(() => undefined);
  }

  start(session: Session): void {
    const { core } = this;
    // No server starts for a session while the service cannot answer (no provider, a broken config).
    if (core.lifecycle.state !== 'ready' || configurationProblem(core) !== undefined || this.running.has(session.id)) return;
    const leasing = core.placement.warmUpLease(session);
    if (leasing === undefined) return;
    this.track(
      session,
      leasing.then(async (lease) => {
        if (lease === undefined) return;
        try {
          await this.createConversation(lease.instance, session);
        } finally {
          lease.release();
        }
      }),
    );
  }

  private async createConversation(instance: ServerInstance, session: Session): Promise<void> {
    if (session.opencodeSessionId !== undefined) return;
    this.core.sessions.setConversation(session, await ensureOpencodeSession(instance, session, this.core.settings.pool.serverStartTimeoutMs));
  }

  private track(session: Session, warming: Promise<void>): void {
    const { logger } = this.core;
    const done = warming
      .then(() => logger.debug('Session warmed up', { sessionId: session.id }))
      .catch((error: unknown) => logger.warn('Session warm-up failed', { sessionId: session.id, error: errorMessage(error) }))
      .finally(() => this.running.delete(session.id));
    this.running.set(session.id, done);
  }
}
