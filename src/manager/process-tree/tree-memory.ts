// Resident memory of a whole process tree (opencode plus its tools, LSPs and MCP servers), read from
// /proc/PID/status (VmRSS). Shared pages are counted once per process: an upper bound, as operators
// expect from "RSS of the tree".
import { readFileSync } from 'node:fs';
import { findTree, type TreeIdentity } from './find-tree.js';

export function residentBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'latin1');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match?.[1] === undefined ? 0 : Number(match[1]) * 1024;
  } catch {
    return 0;
  }
}

export function treeResidentBytes(identity: TreeIdentity): number {
  return findTree(identity).reduce((sum, pid) => sum + residentBytes(pid), 0);
}
