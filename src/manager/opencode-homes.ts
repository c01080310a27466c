// Where opencode keeps its data under OCPM_DATA_DIR: one data dir per server pool slot (shared by the
// sessions pinned to that slot, in server mode and in its per-message fallback alike, so a
// conversation survives a switch between them), or one home per session when sessions are isolated.
import path from 'node:path';

export { sessionHome, prepareSessionHome, type SessionHome } from './isolation/session-home.js';

export interface SlotHome {
  /** The slot's directory: the cwd of its `opencode serve`. */
  readonly dir: string;
  /** XDG_DATA_HOME of every opencode process of the slot (its opencode.db). */
  readonly data: string;
}

export function slotHome(dataDir: string, slot: number): SlotHome {
  const dir = path.join(dataDir, 'opencode', `slot-${slot}`);
  return { dir, data: path.join(dir, 'data') };
}
