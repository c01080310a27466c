// At boot, kills what a previous run of the service left behind when it crashed: every process whose
// environment carries the marker of a recorded child (descendants included, reparented or not), and
// the recorded root itself only when /proc still shows its start time and command line (a reused pid
// is never killed: it carries no marker and has another start time). Their private TMPDIRs go too,
// without following a link out of them. A record whose clean-up fails is reported (`orphan_reap`)
// and kept for the next boot; the others are still reaped.
import type { ProcessStore } from '../../store/process-store.js';
import { housekeepingFailed, type Housekeeping } from '../../util/housekeeping.js';
import { removeTree } from '../../util/remove-tree.js';
import { killTree } from './kill-tree.js';
import { isAlive, readCmdline, readProcInfo } from './proc.js';
import { PROCESS_MARK_VARIABLE, childTmpDir } from './spawn-tracked.js';

export interface ReapResult {
  readonly rows: number;
  readonly killed: number;
  /** Records whose clean-up failed (reported, and kept for the next boot). */
  readonly failed: number;
}

export async function reapOrphans(store: ProcessStore, graceMs: number, housekeeping?: Housekeeping): Promise<ReapResult> {
  let killed = 0;
  let failed = 0;
  const rows = store.list();
  for (const row of rows) {
    try {
      const info = readProcInfo(row.pid);
      const sameProcess = isAlive(info) && info.startTime === row.startTime && readCmdline(row.pid) === row.cmdline;
      const result = await killTree({ rootPid: row.pid, marker: `${PROCESS_MARK_VARIABLE}=${row.processId}`, rootAlive: () => sameProcess }, graceMs);
      killed += result.found;
      await removeTree(childTmpDir(row.processId));
      store.remove(row.processId);
    } catch (error) {
      failed += 1;
      if (housekeeping === undefined) throw error;
      housekeepingFailed(housekeeping, 'orphan_reap', error, { processId: row.processId });
    }
  }
  return { rows: rows.length, killed, failed };
}
