// Shared by soak.ts and endpoints.ts: the service started as a child against the fake opencode
// (event-driven: the port and readiness come from its JSON log lines), stopped with SIGTERM, and what
// /proc and /metrics say about it.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const FAKE_BIN = path.join(ROOT, 'test', 'fixtures', 'fake-opencode', 'opencode');

interface LogLine { level?: string; message?: string; port?: number }

export interface ServiceChild {
  child: ChildProcess;
  pid: number;
  port: number;
  base: string;
  exited: Promise<number | string>;
  /** warn/error log lines, counted by level and message. */
  problems: Map<string, number>;
  stderrTail: string[];
}

export interface ServiceChildOptions {
  /** Node arguments before nothing else: flags, preloads and the entry file. */
  readonly nodeArgs: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** Adds an IPC channel (for a preload that answers the bench). */
  readonly ipc?: boolean;
  /** Keeps the service's stdout log lines, for an investigation. */
  readonly logFile?: string;
}

/** Starts the service; resolves once it logged "OpenCode process manager initialized" (60 s bound). */
export function startServiceChild(options: ServiceChildOptions): Promise<ServiceChild> {
  const child = spawn(process.execPath, [...options.nodeArgs], {
    cwd: ROOT,
    stdio: options.ipc === true ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
    env: options.env,
  });
  const exited = once(child, 'exit').then(([code, signal]) => (code as number | null) ?? String(signal));
  const problems = new Map<string, number>();
  const stderrTail: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    stderrTail.push(line);
    if (stderrTail.length > 20) stderrTail.shift();
  });
  if (options.logFile !== undefined) child.stdout!.pipe(createWriteStream(options.logFile));
  let port: number | undefined;
  return new Promise((resolve, reject) => {
    // A bound, not a sleep: a service that never logs its ready line is stopped and the run fails.
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error('the service did not log "OpenCode process manager initialized" within 60 s'));
    }, 60_000);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the service exited (${code}) before it was ready: ${stderrTail.join('\n')}`));
    });
    // Event-driven start: the port comes from one JSON log line, readiness from a later one.
    createInterface({ input: child.stdout! }).on('line', (text) => {
      let line: LogLine;
      try { line = JSON.parse(text) as LogLine; } catch { return; }
      if (line.level === 'warn' || line.level === 'error') {
        const key = `${line.level}: ${line.message}`;
        problems.set(key, (problems.get(key) ?? 0) + 1);
      }
      if (line.message === 'HTTP server listening') port = line.port;
      if (line.message === 'OpenCode process manager initialized' && port !== undefined) {
        clearTimeout(timer);
        resolve({ child, pid: child.pid!, port, base: `http://127.0.0.1:${port}`, exited, problems, stderrTail });
      }
    });
  });
}

/** SIGTERM, then wait for the exit; SIGKILL only if it hangs, so a bad shutdown still ends the run. */
export async function stopServiceChild(service: ServiceChild): Promise<{ exitCode: number | string; shutdownMs: number }> {
  const started = Date.now();
  if (service.child.exitCode === null && service.child.signalCode === null) service.child.kill('SIGTERM');
  const timer = setTimeout(() => service.child.kill('SIGKILL'), 30_000);
  const exitCode = await service.exited;
  clearTimeout(timer);
  return { exitCode, shutdownMs: Date.now() - started };
}

/** VmRSS of one process in MB; 0 once it is gone. */
export function rssMb(pid: number): number {
  try { return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024; } catch { return 0; }
}

export type FakeRole = 'run' | 'serve' | 'grandchild';

/**
 * Live fake-opencode processes of THIS run, with their role. Other test runs use fakes on the same
 * machine, so a process counts only if its environment names our temp dir (children get their
 * XDG_DATA_HOME and PWD there; grandchildren inherit them). Zombies are dead and not counted.
 */
export function fakeProcesses(marker: string): Array<{ pid: number; role: FakeRole }> {
  const found: Array<{ pid: number; role: FakeRole }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (!argv.some((a) => a.includes('fake-opencode'))) continue;
      if (/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${entry}/stat`, 'utf8'))) continue;
      if (!readFileSync(`/proc/${entry}/environ`, 'utf8').includes(marker)) continue;
      found.push({ pid: Number(entry), role: argv.includes('__grandchild') ? 'grandchild' : argv.includes('serve') ? 'serve' : 'run' });
    } catch { /* it ended while we looked */ }
  }
  return found;
}

/** Sums a Prometheus counter by one label (e.g. commands_total by outcome, over every mode). */
export function sumBy(metricsText: string, metric: string, label: string): Record<string, number> {
  const sums: Record<string, number> = {};
  for (const line of metricsText.split('\n')) {
    const m = new RegExp(`^${metric}\\{([^}]*)\\} (\\S+)$`).exec(line);
    if (m === null) continue;
    const key = new RegExp(`${label}="([^"]*)"`).exec(m[1]!)?.[1] ?? '';
    sums[key] = (sums[key] ?? 0) + Number(m[2]);
  }
  return sums;
}
