// What /proc says about processes, for the tests and the benchmarks: which are still alive (tagged by
// an environment entry, so each test run sees only its own: test files run in parallel, and other
// suites may run on the machine), a process tree with its memory, and a process's CPU time.
// Deliberately independent of src/manager/process-tree: these are the checks of that code.
import { readFileSync, readdirSync } from 'node:fs';

interface Stat {
  readonly state: string;
  readonly ppid: number;
  /** utime + stime, in clock ticks. */
  readonly cpuTicks: number;
}

/** Fields of /proc/PID/stat; undefined when the process is gone. */
function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: the fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? 'X', ppid: Number(fields[1]), cpuTicks: Number(fields[11]) + Number(fields[12]) };
}

/** Alive: it exists and is not a zombie (`Z`) or dead (`X`); a killed child can stay a zombie for a while. */
export function isPidLive(pid: number): boolean {
  const state = readStat(pid)?.state;
  return state !== undefined && state !== 'Z' && state !== 'X';
}

/** Every pid in /proc but this process's own. */
function allPids(): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => pid !== process.pid);
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'latin1');
  } catch {
    return undefined; // gone, or not ours to read
  }
}

/** Live pids whose environment holds exactly `NAME=VALUE`. */
export function pidsWithEnv(entry: string): number[] {
  return allPids().filter((pid) => readText(`/proc/${pid}/environ`)?.split('\0').includes(entry) === true && isPidLive(pid));
}

export interface FoundProcess {
  readonly pid: number;
  readonly argv: readonly string[];
}

/** Processes (zombies included) one of whose arguments is exactly `arg`: found without any mark of ours. */
export function pidsWithArg(arg: string): number[] {
  return allPids().filter((pid) => readText(`/proc/${pid}/cmdline`)?.split('\0').includes(arg) === true);
}

/**
 * Live processes whose command line contains `cmdline` and whose environment contains `environ`
 * anywhere (e.g. a temp dir that every child has in its XDG_DATA_HOME or PWD, inherited by the
 * grandchildren too).
 */
export function processesMatching(match: { readonly cmdline: string; readonly environ: string }): FoundProcess[] {
  const found: FoundProcess[] = [];
  for (const pid of allPids()) {
    const argv = readText(`/proc/${pid}/cmdline`)?.split('\0');
    if (argv?.some((arg) => arg.includes(match.cmdline)) !== true) continue;
    if (readText(`/proc/${pid}/environ`)?.includes(match.environ) !== true || !isPidLive(pid)) continue;
    found.push({ pid, argv });
  }
  return found;
}

export type FakeRole = 'run' | 'serve' | 'grandchild';

/** Live fake-opencode processes (test/fixtures/fake-opencode) whose environment holds `marker`, with their role. */
export function fakeOpencodeProcesses(marker: string): Array<{ pid: number; role: FakeRole }> {
  return processesMatching({ cmdline: 'fake-opencode', environ: marker }).map(({ pid, argv }) => ({
    pid,
    role: argv.includes('__grandchild') ? 'grandchild' : argv.includes('serve') ? 'serve' : 'run',
  }));
}

/** VmRSS of one process in kB; 0 once it is gone. */
export function rssKb(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(readText(`/proc/${pid}/status`) ?? '')?.[1] ?? 0);
}

/** VmRSS of one process in MB; 0 once it is gone. */
export function rssMb(pid: number): number {
  return rssKb(pid) / 1024;
}

/** utime + stime of one process in ms (clock ticks are 10 ms on Linux); 0 once it is gone. */
export function cpuMs(pid: number): number {
  return (readStat(pid)?.cpuTicks ?? 0) * 10;
}

/** The live processes and their parents, read once, to walk trees without re-reading /proc. */
export function processTable(): Map<number, { ppid: number }> {
  const table = new Map<number, { ppid: number }>();
  for (const pid of allPids()) {
    const stat = readStat(pid);
    if (stat !== undefined && stat.state !== 'Z' && stat.state !== 'X') table.set(pid, { ppid: stat.ppid });
  }
  return table;
}

/** The root and every live descendant, found by walking the parent links down from the root. */
export function processTree(root: number, table = processTable()): number[] {
  if (!table.has(root)) return [];
  const pids = [root];
  for (let i = 0; i < pids.length; i += 1) {
    for (const [pid, { ppid }] of table) if (ppid === pids[i]) pids.push(pid);
  }
  return pids;
}

/** Summed VmRSS in kB of the root and its live descendants. */
export function treeRssKb(root: number): number {
  return processTree(root).reduce((sum, pid) => sum + rssKb(pid), 0);
}
