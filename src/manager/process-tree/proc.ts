// Reads the process table from /proc. Linux only, like the opencode binaries we manage.
import { readFileSync, readdirSync } from 'node:fs';

export interface ProcInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly pgid: number;
  readonly sid: number;
  /** One-letter state from /proc/PID/stat; 'Z' (zombie) and 'X' (dead) count as gone. */
  readonly state: string;
  /** Clock ticks since boot when the process started: with the pid, it identifies one process. */
  readonly startTime: number;
}

export function listPids(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (/^\d+$/.test(name)) pids.push(Number(name));
  }
  return pids;
}

/** Parses /proc/PID/stat; undefined when the process is gone. */
export function readProcInfo(pid: number): ProcInfo | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: parse after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const [state, ppid, pgid, sid] = [fields[0], fields[1], fields[2], fields[3]];
  const startTime = fields[19];
  if (state === undefined || ppid === undefined || pgid === undefined || sid === undefined || startTime === undefined) {
    return undefined;
  }
  return { pid, ppid: Number(ppid), pgid: Number(pgid), sid: Number(sid), state, startTime: Number(startTime) };
}

export function isAlive(info: ProcInfo | undefined): info is ProcInfo {
  return info !== undefined && info.state !== 'Z' && info.state !== 'X';
}

/** True when /proc/PID/environ holds exactly `NAME=VALUE` (descendants inherit it, reparented or not). */
export function environHas(pid: number, entry: string): boolean {
  let environ: Buffer;
  try {
    environ = readFileSync(`/proc/${pid}/environ`);
  } catch {
    return false;
  }
  const needle = Buffer.from(`${entry}\0`);
  const at = environ.indexOf(needle);
  return at === 0 || (at > 0 && environ[at - 1] === 0);
}

/** The command line as one space-joined string; undefined when the process is gone. */
export function readCmdline(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').split('\0').join(' ');
  } catch {
    return undefined;
  }
}
