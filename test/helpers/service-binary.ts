// The service binary as operators run it: `node --import tsx src/main.ts` (or the build) as a child
// process, its JSON log read line by line so tests and benchmarks wait on log events, never on sleeps.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { exitOf, stopChild, type ChildExit } from './child-process.js';
import { PROJECT_ROOT } from './fixtures.js';

const MAIN = path.join(PROJECT_ROOT, 'src', 'main.ts');

export interface BinaryOptions {
  /** Node's arguments, the entry file included. Default: `--import tsx src/main.ts`. */
  readonly nodeArgs?: readonly string[];
  /** `pipe` keeps the last 20 stderr lines in `stderrTail` instead of passing them through. */
  readonly stderr?: 'inherit' | 'pipe';
  /** Adds an IPC channel (for a preload that answers the benchmark). */
  readonly ipc?: boolean;
  /** Also writes the service's stdout (its JSON log) to this file, for an investigation. */
  readonly logFile?: string;
}

export interface ServiceBinary {
  readonly child: ChildProcess;
  /** The service's stdout, one JSON log line at a time. */
  readonly lines: AsyncIterableIterator<string>;
  /** The last 20 stderr lines (with `stderr: 'pipe'`). */
  readonly stderrTail: string[];
}

/** Starts the service with `env` over a minimal PATH and HOME from this process. */
export function startBinary(env: Record<string, string | undefined>, options: BinaryOptions = {}): ServiceBinary {
  const stderr = options.stderr ?? 'inherit';
  const child = spawn(process.execPath, [...(options.nodeArgs ?? ['--import', 'tsx', MAIN])], {
    cwd: PROJECT_ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', stderr, ...(options.ipc === true ? (['ipc'] as const) : [])],
  });
  const stdout = child.stdout;
  if (stdout === null) throw new Error('the service has no stdout pipe');
  if (options.logFile !== undefined) stdout.pipe(createWriteStream(options.logFile));
  const stderrTail: string[] = [];
  if (child.stderr !== null) {
    createInterface({ input: child.stderr }).on('line', (line) => {
      stderrTail.push(line);
      if (stderrTail.length > 20) stderrTail.shift();
    });
  }
  const lines = createInterface({ input: stdout })[Symbol.asyncIterator]();
  return { child, lines, stderrTail };
}

/** Reads log lines until one has this message; fails if the service exits first. */
export async function waitForLog(lines: AsyncIterableIterator<string>, message: string): Promise<Record<string, unknown>> {
  for (;;) {
    const next = await lines.next();
    if (next.done === true) throw new Error(`the service exited before logging "${message}"`);
    const entry = JSON.parse(next.value) as Record<string, unknown>;
    if (entry.message === message) return entry;
  }
}

export interface ReadyService {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  /** `http://127.0.0.1:<port>`. */
  readonly base: string;
  readonly exited: Promise<ChildExit>;
  /** warn/error log lines, counted by `<level>: <message>`, for the whole run. */
  readonly problems: Map<string, number>;
  readonly stderrTail: string[];
}

/**
 * Starts the service (HOST must be 127.0.0.1, PORT may be 0) and resolves once it logged `HTTP server
 * listening` (the port) and then `OpenCode process manager initialized`; the log is read to the end
 * afterwards to count warn/error lines. A service that exits first, or is not ready within
 * `readyTimeoutMs` (a bound, not a sleep; it is then stopped), rejects.
 */
export async function startReadyService(env: Record<string, string | undefined>, options: BinaryOptions = {}, readyTimeoutMs = 60_000): Promise<ReadyService> {
  const { child, lines, stderrTail } = startBinary(env, { stderr: 'pipe', ...options });
  const exited = exitOf(child);
  const problems = new Map<string, number>();
  let port: number | undefined;
  let onReady: (port: number) => void = () => undefined;
  const ready = new Promise<number>((resolve) => (onReady = resolve));
  void (async () => {
    for await (const text of lines) {
      let entry: { level?: string; message?: string; port?: number };
      try {
        entry = JSON.parse(text) as typeof entry;
      } catch {
        continue;
      }
      if (entry.level === 'warn' || entry.level === 'error') {
        const key = `${entry.level}: ${entry.message}`;
        problems.set(key, (problems.get(key) ?? 0) + 1);
      }
      if (entry.message === 'HTTP server listening') port = entry.port;
      if (entry.message === 'OpenCode process manager initialized' && port !== undefined) onReady(port);
    }
  })();
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    ready.then((readyPort) => ({ readyPort })),
    exited.then((exit) => ({ exit })),
    new Promise<{ timedOut: true }>((resolve) => (timer = setTimeout(() => resolve({ timedOut: true }), readyTimeoutMs))),
  ]);
  clearTimeout(timer);
  if ('exit' in outcome) {
    throw new Error(`the service exited (${String(outcome.exit.code ?? outcome.exit.signal)}) before it was ready: ${stderrTail.join('\n')}`);
  }
  if ('timedOut' in outcome) {
    await stopChild(child, 5000);
    throw new Error(`the service did not log "OpenCode process manager initialized" within ${readyTimeoutMs / 1000} s`);
  }
  const pid = child.pid as number;
  return { child, pid, port: outcome.readyPort, base: `http://127.0.0.1:${outcome.readyPort}`, exited, problems, stderrTail };
}

/** SIGTERM, then the exit (SIGKILL only after 30 s, so a bad shutdown still ends the run); a no-op once it has exited. */
export async function stopService(service: ReadyService): Promise<{ exitCode: number | string; shutdownMs: number }> {
  const { code, signal, ms } = await stopChild(service.child);
  return { exitCode: code ?? String(signal), shutdownMs: ms };
}
