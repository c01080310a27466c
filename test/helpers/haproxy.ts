// A real HAProxy in front of service replicas, as a test's child process: routes by the X-Session-Id
// header over a consistent hash, health-checks /readyz, and changes its backend set at runtime through
// its admin socket (enable a server, put one in maintenance), the way an operator scales a deployment.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { exitOf, stopChild, type ChildExit } from './child-process.js';
import { waitFor } from './wait-for.js';

/** The haproxy executable (Debian puts it in /usr/sbin, often not on a user's PATH); undefined if absent. */
export function haproxyBinary(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/sbin', '/usr/local/sbin'];
  return dirs.map((dir) => path.join(dir, 'haproxy')).find((file) => existsSync(file));
}

export interface HaproxyServer {
  readonly name: string;
  readonly port: number;
  /** Starts in maintenance (`disabled`): `enable()` adds it later. */
  readonly disabled?: boolean;
}

export interface HaproxyOptions {
  /** Config, admin socket and log go here. */
  readonly dir: string;
  /** The frontend's port on 127.0.0.1. */
  readonly port: number;
  readonly servers: readonly HaproxyServer[];
  /** Health-check interval of each server (`inter`). Default 250 ms. */
  readonly checkIntervalMs?: number;
}

/** The configuration: one HTTP frontend, one backend `be` hashed on X-Session-Id, /readyz checks. */
export function haproxyConfig(options: HaproxyOptions & { readonly socket: string }): string {
  const inter = options.checkIntervalMs ?? 250;
  return [
    'global',
    `  stats socket ${options.socket} level admin`,
    '  maxconn 2000',
    '',
    'defaults',
    '  mode http',
    '  option http-keep-alive',
    '  timeout connect 2s',
    // Long enough for a turn of the real opencode and for SSE streams.
    '  timeout client 10m',
    '  timeout server 10m',
    '  timeout tunnel 10m',
    '  timeout http-request 30s',
    '  retries 2',
    '  option redispatch',
    '',
    'frontend fe',
    `  bind 127.0.0.1:${options.port}`,
    '  default_backend be',
    '',
    'backend be',
    '  balance hdr(X-Session-Id)',
    '  hash-type consistent',
    '  option httpchk GET /readyz',
    '  http-check expect status 200',
    // A replica busy with many turns may answer a check late: a slow check must not take it out
    // (its sessions would then hash elsewhere). Scaling down goes through `maint` anyway.
    '  timeout check 3s',
    `  default-server inter ${inter} fastinter ${inter} downinter ${inter} rise 1 fall 3`,
    ...options.servers.map((s) => `  server ${s.name} 127.0.0.1:${s.port} check${s.disabled === true ? ' disabled' : ''}`),
    '',
  ].join('\n');
}

/** One server's row of `show stat`: `status` is UP, DOWN, MAINT, `UP 1/2` (going down), …. */
export interface ServerStat {
  readonly name: string;
  readonly status: string;
}

export class Haproxy {
  readonly url: string;
  readonly socket: string;
  readonly logFile: string;
  private child: ChildProcess | undefined;
  private exited: Promise<ChildExit> | undefined;

  constructor(
    private readonly binary: string,
    private readonly options: HaproxyOptions,
  ) {
    this.url = `http://127.0.0.1:${options.port}`;
    this.socket = path.join(options.dir, 'admin.sock');
    this.logFile = path.join(options.dir, 'haproxy.log');
  }

  /** Writes the config, runs haproxy in the foreground and resolves once every enabled server is UP. */
  async start(timeoutMs = 20_000): Promise<void> {
    await mkdir(this.options.dir, { recursive: true });
    const config = path.join(this.options.dir, 'haproxy.cfg');
    await writeFile(config, haproxyConfig({ ...this.options, socket: this.socket }));
    const check = spawn(this.binary, ['-c', '-f', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let checkOutput = '';
    check.stdout.on('data', (chunk: Buffer) => (checkOutput += chunk.toString('utf8')));
    check.stderr.on('data', (chunk: Buffer) => (checkOutput += chunk.toString('utf8')));
    const checked = await exitOf(check);
    if (checked.code !== 0) throw new Error(`haproxy -c rejected ${config}: ${checkOutput}`);

    const log = createWriteStream(this.logFile);
    const child = spawn(this.binary, ['-db', '-f', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    this.child = child;
    this.exited = exitOf(child);
    const enabled = this.options.servers.filter((s) => s.disabled !== true).map((s) => s.name);
    await waitFor(
      `haproxy to answer on its admin socket with ${enabled.join(', ')} UP`,
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`haproxy exited: ${await this.logTail()}`);
        const stats = await this.serverStats().catch(() => undefined);
        return stats !== undefined && enabled.every((name) => stats.find((s) => s.name === name)?.status === 'UP');
      },
      timeoutMs,
      50,
    );
    // The frontend answers (any HTTP status: this is haproxy's answer, not a replica's).
    await waitFor(
      'the haproxy frontend to answer',
      () =>
        fetch(`${this.url}/livez`).then(
          () => true,
          () => false,
        ),
      timeoutMs,
      50,
    );
  }

  /** One admin-socket command; resolves with haproxy's answer. */
  command(command: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection(this.socket);
      let answer = '';
      socket.setEncoding('utf8');
      socket.on('connect', () => socket.end(`${command}\n`));
      socket.on('data', (chunk: string) => (answer += chunk));
      socket.on('error', reject);
      socket.on('close', () => resolve(answer));
    });
  }

  /** The servers of backend `be` and their status. */
  async serverStats(): Promise<ServerStat[]> {
    const csv = await this.command('show stat');
    const [header, ...rows] = csv.split('\n').filter((line) => line.trim() !== '');
    if (header === undefined || !header.startsWith('# ')) throw new Error(`unexpected show stat answer: ${csv.slice(0, 200)}`);
    const columns = header.slice(2).split(',');
    const col = (name: string): number => columns.indexOf(name);
    return rows
      .map((row) => row.split(','))
      .filter((cells) => cells[col('pxname')] === 'be' && !['BACKEND', 'FRONTEND'].includes(cells[col('svname')] ?? ''))
      .map((cells) => ({ name: cells[col('svname')] ?? '', status: cells[col('status')] ?? '' }));
  }

  async statusOf(name: string): Promise<string | undefined> {
    return (await this.serverStats()).find((s) => s.name === name)?.status;
  }

  /** Waits until haproxy reports `name` with exactly this status (UP, MAINT, DOWN). */
  async waitForStatus(name: string, status: string, timeoutMs = 20_000): Promise<void> {
    await waitFor(`haproxy to report ${name} ${status}`, async () => (await this.statusOf(name)) === status, timeoutMs, 50);
  }

  /** `enable server be/<name>` (out of maintenance), then waits until its checks pass (UP). */
  async enable(name: string): Promise<void> {
    const answer = await this.command(`enable server be/${name}`);
    if (answer.trim() !== '') throw new Error(`enable server be/${name}: ${answer}`);
    await this.waitForStatus(name, 'UP');
  }

  /** `set server be/<name> state maint`: no new requests go there. */
  async maint(name: string): Promise<void> {
    const answer = await this.command(`set server be/${name} state maint`);
    if (answer.trim() !== '') throw new Error(`set server be/${name} state maint: ${answer}`);
    await this.waitForStatus(name, 'MAINT');
  }

  /** Servers haproxy took out after failed checks (its `Server be/<name> is DOWN` warnings), from its log. */
  async downEvents(): Promise<string[]> {
    const text = await readFile(this.logFile, 'utf8').catch(() => '');
    return text.split('\n').filter((line) => /Server be\/\S+ is DOWN/.test(line));
  }

  async logTail(lines = 20): Promise<string> {
    const text = await readFile(this.logFile, 'utf8').catch(() => '');
    return text.trim().split('\n').slice(-lines).join('\n');
  }

  /** SIGTERM (haproxy's hard stop), SIGKILL after 5 s; a no-op when it never started or already exited. */
  async stop(): Promise<ChildExit | undefined> {
    if (this.child === undefined) return undefined;
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    return stopChild(this.child, 5000);
  }
}
