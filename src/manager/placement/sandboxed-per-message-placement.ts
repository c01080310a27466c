// Per-message mode with isolation: each session has a home of its own (its opencode data, config and
// cache) and every run of it is confined to its sandbox. The base of the isolated server pool's
// placement, which keeps the same homes.
import { existsSync } from 'node:fs';
import type { Session } from '../../store/session-registry.js';
import { tolerate } from '../../util/housekeeping.js';
import { removeTree } from '../../util/remove-tree.js';
import { copyConversationDatabase, installConversationDatabase } from '../isolation/conversation-database.js';
import type { SessionSandbox } from '../isolation/session-sandbox.js';
import type { ServerPool } from '../server/server-pool.js';
import { sessionHome, type SessionHome } from '../opencode-homes.js';
import { PerMessagePlacement } from './per-message-placement.js';
import type { Launch, PlacementDeps } from './placement.js';

export class SandboxedPerMessagePlacement extends PerMessagePlacement {
  constructor(
    deps: PlacementDeps,
    protected readonly sandbox: SessionSandbox,
    pool?: ServerPool,
  ) {
    super(deps, pool);
  }

  protected homeOf(session: Session): SessionHome {
    return sessionHome(this.deps.dataDir, session.id);
  }

  /**
   * The session's home exists before its opencode starts; a conversation that was kept in a shared
   * data dir before isolation was turned on is not in it, so the session starts a new one.
   */
  override async prepareTurn(session: Session): Promise<void> {
    const home = this.homeOf(session);
    if (session.opencodeSessionId !== undefined && !existsSync(home.root)) {
      this.deps.logger.warn("The session's conversation is not in its isolated home (kept before isolation, or purged); it starts a new one", {
        sessionId: session.id,
      });
      this.deps.sessions.setConversation(session, undefined);
    }
    await this.sandbox.prepareHome(home);
  }

  override dataHome(session: Session): string {
    return this.homeOf(session).data;
  }

  override async launch(session: Session): Promise<Launch> {
    const home = this.homeOf(session);
    const gateway = await this.gatewayAccess(session);
    const { sandbox } = this;
    return {
      env: { ...sandbox.childEnv(home), ...gateway.env },
      sandbox: (file, args, tmpDir) =>
        sandbox.wrap(file, args, { sessionId: session.id, workspace: session.workspace, home, tmpDir, gatewayPort: gateway.port }),
    };
  }

  /** The whole session home: its conversation lives in a database of its own. */
  override async purgeConversation(session: Session): Promise<void> {
    await tolerate(this.deps.housekeeping, 'purge', () => removeTree(this.homeOf(session).root), { sessionId: session.id, what: 'session home' });
  }

  /** The session moved either way: a home that cannot be removed is logged and counted. */
  override async forget(session: Session): Promise<void> {
    await tolerate(this.deps.housekeeping, 'handoff_release', () => removeTree(this.homeOf(session).root), { sessionId: session.id });
  }

  /** The session's database is the conversation; a copy of it needs no opencode start. */
  override async exportDatabase(session: Session): Promise<string | undefined> {
    return session.opencodeSessionId === undefined ? undefined : copyConversationDatabase(this.homeOf(session).data);
  }

  override async importDatabase(session: Session, database: string): Promise<boolean> {
    await this.prepareHome(session);
    await installConversationDatabase(this.homeOf(session).data, database);
    return true;
  }

  override async prepareHome(session: Session): Promise<void> {
    await this.sandbox.prepareHome(this.homeOf(session));
  }
}
