// Finds every live process that belongs to one spawned child: its process group, its descendants by
// parent pid, and (what survives setsid and reparenting to init) every process whose environment
// carries the child's unique marker. opencode's bash tool starts commands in a new session, so the
// process group alone misses them (facts doc, trap 4).
import { environHas, isAlive, listPids, readProcInfo, type ProcInfo } from './proc.js';

export interface TreeIdentity {
  /** The spawned child; also its process group id, since it was spawned detached. */
  readonly rootPid: number;
  /** `NAME=VALUE` placed in the child's environment at spawn. */
  readonly marker: string;
  /**
   * False once the child has been reaped: its pid (and so the group id) may then belong to another
   * process, and only the marker still identifies the tree.
   */
  readonly rootAlive: () => boolean;
}

export function findTree(identity: TreeIdentity): number[] {
  const table = new Map<number, ProcInfo>();
  for (const pid of listPids()) {
    if (pid === process.pid) continue;
    const info = readProcInfo(pid);
    if (isAlive(info)) table.set(pid, info);
  }
  const members = new Set<number>();
  for (const info of table.values()) {
    const inGroup = info.pgid === identity.rootPid && identity.rootAlive();
    if (inGroup || environHas(info.pid, identity.marker)) {
      members.add(info.pid);
    }
  }
  // Descendants that cleared their environment but are still children of a member.
  let grew = true;
  while (grew) {
    grew = false;
    for (const info of table.values()) {
      if (!members.has(info.pid) && members.has(info.ppid)) {
        members.add(info.pid);
        grew = true;
      }
    }
  }
  return [...members];
}
