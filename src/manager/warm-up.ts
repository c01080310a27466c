// Server mode: a registered session's opencode session (or, isolated, its own server) is made ready
// in the background, and what a first prompt in its workspace loads is loaded ahead, so its first
// message does not pay the per-directory bootstrap: first the reads (config, providers, agents…),
// then, with the model gateway, one prompt in a throwaway conversation whose model call the gateway
// answers itself (warm-up-calls.ts): a first prompt in a workspace costs ~1.3 s of opencode's CPU
// that no read triggers. A turn of the session waits only for its conversation; a delete waits for
// the whole warm-up.
import type { ModelGateway } from '../gateway/model-gateway.js';
import type { Logger } from '../logging/logger.js';
import type { Session, SessionRegistry } from '../store/session-registry.js';
import { errorMessage } from '../util/guards.js';
import type { Lifecycle } from './lifecycle.js';
import type { Placement } from './placement/placement.js';
import type { OpencodeClient } from './server/opencode-client.js';
import { sendWarmUpPrompt } from './server/warm-up-prompt.js';
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
  /** Without it there is no warm-up prompt: its model call would reach a provider. */
  readonly gateway: Pick<ModelGateway, 'warmUpCalls'> | undefined;
  /** A session with a turn running or queued loads its workspace by itself: no warm-up prompt then. */
  readonly sessionInUse: (sessionId: string) => boolean;
}

export class WarmUps {
  private readonly running = new Map<string, Promise<unknown>>();
  private readonly conversations = new Map<string, Promise<void>>();
  /** The workspaces each server has had a warm-up prompt in. */
  private readonly prompted = new WeakMap<ServerInstance, Set<string>>();

  constructor(private readonly deps: WarmUpDeps) {}

  /** Resolves when the session's warm-up (if any) has ended, whatever its outcome. */
  async settled(sessionId: string): Promise<void> {
    await this.running.get(sessionId)?.catch(() => undefined);
  }

  /** Resolves when the session's warm-up has its conversation (or has ended): what a turn waits for. */
  async conversationReady(sessionId: string): Promise<void> {
    await this.conversations.get(sessionId);
  }

  start(session: Session): void {
    const { deps } = this;
    // No server starts for a session while the service cannot answer (no provider, a broken config).
    if (deps.lifecycle.state !== 'ready' || !deps.ready() || this.running.has(session.id)) return;
    const leasing = deps.placement().warmUpLease(session);
    if (leasing === undefined) return;
    let conversationDone = (): void => undefined;
    this.conversations.set(session.id, new Promise<void>((resolve) => (conversationDone = resolve)));
    this.track(
      session,
      leasing
        .then(async (lease) => {
          if (lease === undefined) return;
          try {
            await this.warm(lease.instance, session, conversationDone);
          } finally {
            lease.release();
          }
        })
        .finally(conversationDone),
    );
  }

  /** The session's conversation exists, and what its first prompt would load is loaded (no model call). */
  private async warm(instance: ServerInstance, session: Session, conversationDone: () => void): Promise<void> {
    const timeoutMs = this.deps.serverStartTimeoutMs;
    // A workspace this server already served (a turn, a conversation made there) is loaded already.
    const served = instance.directories.has(session.workspace);
    if (session.opencodeSessionId === undefined) this.deps.sessions.setConversation(session, await ensureOpencodeSession(instance, session, timeoutMs));
    conversationDone();
    const client = instance.client;
    if (client === undefined || served || this.deps.sessionInUse(session.id)) return;
    await client.warmDirectory(session.workspace, timeoutMs);
    await this.warmPrompt(instance, client, session, timeoutMs);
  }

  /** One prompt in a throwaway conversation of the workspace, its model call answered by the gateway; then the conversation is deleted. */
  private async warmPrompt(instance: ServerInstance, client: OpencodeClient, session: Session, timeoutMs: number): Promise<void> {
    const { gateway } = this.deps;
    const directory = session.workspace;
    const prompted = this.prompted.get(instance) ?? new Set<string>();
    this.prompted.set(instance, prompted);
    if (gateway === undefined || prompted.has(directory) || this.deps.sessionInUse(session.id)) return;
    prompted.add(directory);
    await sendWarmUpPrompt(client, directory, gateway.warmUpCalls, timeoutMs);
  }

  private track(session: Session, warming: Promise<void>): void {
    const { logger } = this.deps;
    const done = warming
      .then(() => logger.debug('Session warmed up', { sessionId: session.id }))
      .catch((error: unknown) => logger.warn('Session warm-up failed', { sessionId: session.id, error: errorMessage(error) }))
      .finally(() => {
        this.running.delete(session.id);
        this.conversations.delete(session.id);
      });
    this.running.set(session.id, done);
  }
}
