// Where one session's opencode keeps its state when sessions are isolated: its own HOME and XDG
// directories under <data dir>/opencode/sessions/<session id>, so its conversation database holds
// nothing of any other session, and deleting the directory deletes the conversation.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';

export interface SessionHome {
  /** Everything of the session's opencode: removed by a purge. */
  readonly root: string;
  /** XDG_DATA_HOME: opencode.db (the conversation), logs. */
  readonly data: string;
  /** HOME of opencode and of the agent's commands (git config, npm cache…). */
  readonly home: string;
  readonly env: Readonly<Record<string, string>>;
}

/** Where every session's home lives. */
export function sessionsRoot(dataDir: string): string {
  return path.join(dataDir, 'opencode', 'sessions');
}

export function sessionHome(dataDir: string, sessionId: string): SessionHome {
  const root = path.join(sessionsRoot(dataDir), sessionId);
  const home = path.join(root, 'home');
  const data = path.join(root, 'data');
  return {
    root,
    data,
    home,
    env: {
      HOME: home,
      XDG_DATA_HOME: data,
      XDG_CONFIG_HOME: path.join(root, 'config'),
      XDG_CACHE_HOME: path.join(root, 'cache'),
      XDG_STATE_HOME: path.join(root, 'state'),
    },
  };
}

/** Creates the session's directories (private to the service user). */
export async function prepareSessionHome(home: SessionHome): Promise<void> {
  for (const dir of new Set(Object.values(home.env))) await mkdir(dir, { recursive: true, mode: 0o700 });
}
