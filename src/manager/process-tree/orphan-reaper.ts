// At boot, kills what a previous run of the service left behind when it crashed: every process whose
// environment carries the marker of a recorded child (descendants included, reparented or not), and
// the recorded root itself only when /proc still shows its start time and command line (a reused pid
// is never killed: it carries no marker and has another start time). Their private TMPDIRs go too.
import type { ProcessStore } from '../../store/process-store.js';
import { killTree } from './kill-tree.js';
import { isAlive, readCmdline, readProcInfo } from './proc.js';
import { PROCESS_MARK_VARIABLE, childTmpDir } from './spawn-tracked.js';
import { rm } from 'node:fs/promises';

export interface ReapResult {
  readonly rows: number;
  readonly killed: number;
}

export async function reapOrphans(store: ProcessStore, graceMs: number): Promise<ReapResult> {
  let killed = 0;
  const rows = store.list();
  for (const row of rows) {
    const info = readProcInfo(row.pid);
    const sameProcess = isAlive(info) && info.startTime === row.startTime && readCmdline(row.pid) === row.cmdline;
    const result = await killTree({ rootPid: row.pid, marker: `${PROCESS_MARK_VARIABLE}=${row.processId}`, rootAlive: () => sameProcess }, graceMs);
    killed += result.found;
    await rm(childTmpDir(row.processId), { recursive: true, force: true });
    store.remove(row.processId);
  }
  return { rows: rows.length, killed };
}
