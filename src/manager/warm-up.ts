// Server mode: a registered session's opencode session (or, isolated, its own server) is made ready
// in the background, so its first message does not pay the per-directory bootstrap. A turn of the
// session waits for its warm-up first; a delete waits for it too.
import { errorMessage } from '../util/guards.js';
import { configurationProblem } from './readiness.js';
import type { SessionRecord } from '../store/session-registry.js';
import type { ManagerCore } from './manager-core.js';
import { leaseServer, slotOf } from './placement.js';
import { ensureOpencodeSession } from './server/server-turn.js';
import type { ServerInstance } from './server/server-instance.js';

export class WarmUps {
  private readonly running = new Map<string, Promise<unknown>>();

  constructor(private readonly core: ManagerCore) {}

  /** Resolves when the session's warm-up (if any) has ended, whatever its outcome. */
  async settled(sessionId: string): Promise<void> {
    await this.running.get(sessionId)?.catch(() => undefined);
  }

  start(session: SessionRecord): void {
    const { core } = this;
    const pool = core.runtime?.pool;
    // No server starts for a session while the service cannot answer (no provider, a broken config).
    if (pool === undefined || core.lifecycle.state !== 'ready' || configurationProblem(core) !== undefined || this.running.has(session.id)) return;
    if (pool.isolated) {
      // Starts the session's own server (a few seconds) so that the first message does not wait for it.
      if (pool.slotOfSession(session.id) !== undefined) return;
      this.track(
        session,
        leaseServer(core, session).then(async (lease) => {
          if (lease === undefined) return;
          try {
            await this.createConversation(lease.instance, session);
          } finally {
            lease.release();
          }
        }),
      );
      return;
    }
    if (session.opencodeSessionId !== undefined) return;
    const instance = slotOf(core, session).ready;
    if (instance !== undefined) this.track(session, this.createConversation(instance, session));
  }

  private async createConversation(instance: ServerInstance, session: SessionRecord): Promise<void> {
    if (session.opencodeSessionId !== undefined) return;
    session.opencodeSessionId = await ensureOpencodeSession(instance, session, this.core.settings.pool.serverStartTimeoutMs);
    this.core.sessions.save(session);
  }

  private track(session: SessionRecord, warming: Promise<void>): void {
    const { logger } = this.core;
    const done = warming
      .then(() => logger.debug('Session warmed up', { sessionId: session.id }))
      .catch((error: unknown) => logger.warn('Session warm-up failed', { sessionId: session.id, error: errorMessage(error) }))
      .finally(() => this.running.delete(session.id));
    this.running.set(session.id, done);
  }
}
