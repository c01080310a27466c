// Several replicas of the built service as child processes that know each other (OCPM_PEERS), for the
// multi-replica tests: free ports chosen up front, one build of src/ per test file, each replica's
// JSON log kept in memory and in a file, waits on log lines and exits (never sleeps), and the client
// calls of a web app (X-Session-Id on every session call) with their latency and routing headers.
import { execFile, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, rm, symlink } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseSse } from '../../src/util/sse-parser.js';
import { exitOf, stopChild, type ChildExit } from './child-process.js';
import { PROJECT_ROOT } from './fixtures.js';
import { call, TEST_API_TOKEN } from './http.js';
import { startBinary } from './service-binary.js';
import { waitFor } from './wait-for.js';

/**
 * `n` distinct free loopback ports: all bound on port 0 at once (so no two are equal), then released.
 * Another process could take one before the replica binds it; the replica then fails to start, loudly.
 */
export async function freeLoopbackPorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, async () => {
      const server = net.createServer();
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      return server;
    }),
  );
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/**
 * Keeps a port that a replica starts on later taken (every connection is reset, so peers probing it see
 * it down): a port only reserved by number could meanwhile be picked by any listener or outgoing
 * connection of the machine. `release()` frees it just before the replica binds it.
 */
export async function holdPort(port: number): Promise<{ release: () => Promise<void> }> {
  const server = net.createServer((socket) => socket.resetAndDestroy());
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return { release: () => new Promise((resolve) => server.close(() => resolve())) };
}

/**
 * Builds src/ with tsc into a private folder of `.tmp/` (git-ignored), so test files that build at the
 * same time never share output. The build sits one level below a folder that links the checkout's
 * package.json and build/ (the service finds both relative to its own files) and lies inside the
 * checkout (node_modules resolves upwards). Resolves with the node arguments that start it.
 */
export async function buildService(): Promise<{ nodeArgs: string[]; remove: () => Promise<void> }> {
  const root = path.join(PROJECT_ROOT, '.tmp', `build-${randomUUID()}`);
  await mkdir(root, { recursive: true });
  const remove = (): Promise<void> => rm(root, { recursive: true, force: true });
  try {
    await symlink(path.join(PROJECT_ROOT, 'package.json'), path.join(root, 'package.json'));
    await symlink(path.join(PROJECT_ROOT, 'build'), path.join(root, 'build'));
    const tsc = path.join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const args = [tsc, '-p', path.join(PROJECT_ROOT, 'tsconfig.json'), '--outDir', path.join(root, 'dist'), '--declaration', 'false', '--sourceMap', 'false'];
    await promisify(execFile)(process.execPath, args, { cwd: PROJECT_ROOT, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    await remove();
    const output = error as { stdout?: string; stderr?: string };
    throw new Error(`tsc failed: ${output.stdout ?? ''}${output.stderr ?? String(error)}`);
  }
  return { nodeArgs: [path.join(root, 'dist', 'main.js')], remove };
}

export type LogEntry = Record<string, unknown> & { readonly message?: string; readonly level?: string };

interface LogWaiter {
  readonly match: (entry: LogEntry) => boolean;
  readonly resolve: (entry: LogEntry) => void;
  readonly reject: (error: Error) => void;
}

/** One replica: the service binary with its own data dir, port and log. */
export class Replica {
  readonly url: string;
  readonly logFile: string;
  /** Every JSON log line so far, parsed. */
  readonly logs: LogEntry[] = [];
  private child: ChildProcess | undefined;
  private exit: Promise<ChildExit> | undefined;
  private closed = false;
  private stderrTail: string[] = [];
  private waiters: LogWaiter[] = [];

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly env: Record<string, string>,
    private readonly nodeArgs: readonly string[] | undefined,
    logDir: string,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    this.logFile = path.join(logDir, `${name}.log`);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the binary and resolves once it logged it is ready and /readyz answers 200. */
  async start(readyTimeoutMs = 60_000): Promise<void> {
    const binary = startBinary(
      { ...this.env, PORT: String(this.port), HOST: '127.0.0.1' },
      { stderr: 'pipe', logFile: this.logFile, ...(this.nodeArgs === undefined ? {} : { nodeArgs: this.nodeArgs }) },
    );
    this.child = binary.child;
    this.stderrTail = binary.stderrTail;
    this.exit = exitOf(binary.child);
    // 'close' comes after stdout ended, so every log line was read when the waiters are told.
    binary.child.once('close', () => {
      this.closed = true;
      const error = new Error(`${this.name} exited (${this.describeExit()}) first; ${this.tail()}`);
      for (const waiter of this.waiters.splice(0)) waiter.reject(error);
    });
    void (async () => {
      for await (const text of binary.lines) {
        let entry: LogEntry;
        try {
          entry = JSON.parse(text) as LogEntry;
        } catch {
          entry = { message: text, level: 'raw' };
        }
        this.logs.push(entry);
        for (const waiter of [...this.waiters]) {
          if (!waiter.match(entry)) continue;
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          waiter.resolve(entry);
        }
      }
    })();
    try {
      await this.waitForLog('OpenCode process manager initialized', () => true, readyTimeoutMs);
      await waitFor(`${this.name} /readyz 200`, async () => (await call(`${this.url}/readyz`, 'GET')).status === 200, readyTimeoutMs, 50);
    } catch (error) {
      await this.stop(5000);
      throw error;
    }
  }

  /**
   * The first log line (seen already or to come) with this message that `match` accepts. Rejects when
   * the replica exits without it, or after `timeoutMs` (a bound, not a sleep), with the log's tail.
   */
  waitForLog(message: string, match: (entry: LogEntry) => boolean = () => true, timeoutMs = 60_000): Promise<LogEntry> {
    const accepts = (entry: LogEntry): boolean => entry.message === message && match(entry);
    const seen = this.logs.find(accepts);
    if (seen !== undefined) return Promise.resolve(seen);
    if (this.closed) return Promise.reject(new Error(`${this.name} exited (${this.describeExit()}) without logging "${message}"; ${this.tail()}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.name} did not log "${message}" within ${timeoutMs / 1000} s; ${this.tail()}`));
      }, timeoutMs);
      const waiter: LogWaiter = {
        match: accepts,
        resolve: (entry) => {
          clearTimeout(timer);
          resolve(entry);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** The log lines with this message. */
  logsWith(message: string): LogEntry[] {
    return this.logs.filter((entry) => entry.message === message);
  }

  /** The last log lines (warn and error lines first) and stderr, for an assertion message. */
  tail(lines = 12): string {
    const problems = this.logs.filter((e) => e.level === 'warn' || e.level === 'error').slice(-5);
    return (
      `${this.name} (log ${this.logFile}) last warnings: ${JSON.stringify(problems)}; ` +
      `last log lines:\n${this.logs
        .slice(-lines)
        .map((e) => JSON.stringify(e))
        .join('\n')}` +
      (this.stderrTail.length > 0 ? `\nstderr:\n${this.stderrTail.join('\n')}` : '')
    );
  }

  /** Sends a signal (SIGTERM starts the drain and hand-off) and resolves with the exit. */
  async signal(signal: NodeJS.Signals): Promise<ChildExit> {
    if (this.child === undefined || this.exit === undefined) throw new Error(`${this.name} was never started`);
    this.child.kill(signal);
    return this.exit;
  }

  /** The exit of the process (started, or it rejects). */
  exited(): Promise<ChildExit> {
    if (this.exit === undefined) return Promise.reject(new Error(`${this.name} was never started`));
    return this.exit;
  }

  /** SIGTERM, SIGKILL after `killAfterMs`; a no-op for a replica that is not running. */
  async stop(killAfterMs = 30_000): Promise<ChildExit | undefined> {
    if (this.child === undefined) return undefined;
    if (!this.running) return this.exit;
    return stopChild(this.child, killAfterMs);
  }

  private describeExit(): string {
    return String(this.child?.exitCode ?? this.child?.signalCode ?? 'running');
  }
}

/** Runs `work` over `items` with at most `limit` at a time; resolves with the results in order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** The p-th percentile (0-100, nearest rank) of the values; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

/** What a web-app client saw of one message. */
export interface MessageResult {
  readonly sessionId: string;
  readonly status: number;
  /** The answer text (JSON `text`, or the `done` event's `text` of a stream); undefined on an error. */
  readonly text: string | undefined;
  readonly body: unknown;
  readonly ms: number;
  /** X-Ocpm-Replica: the replica that owns the session and answered. */
  readonly replica: string | null;
  /** X-Ocpm-Forwarded-By: the replica that received the request and forwarded it. */
  readonly forwardedBy: string | null;
  readonly retryAfter: string | null;
}

/** The headers of a session call: the token and the X-Session-Id a header-hashing proxy routes on. */
export function sessionHeaders(sessionId: string, extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${TEST_API_TOKEN}`, 'x-session-id': sessionId, ...extra };
}

/**
 * POST /api/sessions/:id/messages as a web app sends it, as JSON or (with `sse`) as an event stream read
 * to its end; `ms` is the time to the whole answer.
 */
export async function sendMessage(base: string, sessionId: string, text: string, options: { sse?: boolean } = {}): Promise<MessageResult> {
  const started = performance.now();
  const url = `${base}/api/sessions/${encodeURIComponent(sessionId)}/messages`;
  const headers = sessionHeaders(sessionId, { 'content-type': 'application/json', ...(options.sse === true ? { accept: 'text/event-stream' } : {}) });
  const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ text }) });
  const routing = {
    replica: response.headers.get('x-ocpm-replica'),
    forwardedBy: response.headers.get('x-ocpm-forwarded-by'),
    retryAfter: response.headers.get('retry-after'),
  };
  const isStream = (response.headers.get('content-type') ?? '').startsWith('text/event-stream');
  if (isStream && response.body !== null) {
    const events: Array<{ event: string; data: unknown }> = [];
    for await (const message of parseSse(response.body)) events.push({ event: message.event, data: JSON.parse(message.data) as unknown });
    const last = events.at(-1);
    const doneText = last?.event === 'done' ? (last.data as { text?: string }).text : undefined;
    return { sessionId, status: response.status, text: doneText, body: last, ms: performance.now() - started, ...routing };
  }
  const raw = await response.text();
  let body: unknown = raw;
  try {
    body = JSON.parse(raw) as unknown;
  } catch {
    // not JSON (an HTML page of the proxy, say): kept as text
  }
  const answer = response.status === 200 ? (body as { text?: string }).text : undefined;
  return { sessionId, status: response.status, text: answer, body, ms: performance.now() - started, ...routing };
}
