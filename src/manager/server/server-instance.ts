// One supervised `opencode serve` process: spawned detached on 127.0.0.1 with a random password and
// its pool slot's own data dir; ready when its "listening" line was printed and /global/health
// answers { healthy: true }; stopped by aborting its busy sessions, then ending its whole tree.
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../logging/logger.js';
import type { ProcessStore } from '../../store/process-store.js';
import { errorMessage } from '../../util/guards.js';
import { spawnTracked, type SandboxWrapper, type TrackedChild, type TrackedResult } from '../process-tree/spawn-tracked.js';
import { treeResidentBytes } from '../process-tree/tree-memory.js';
import { findFreePort } from '../../util/free-port.js';
import { EventHub } from './event-hub.js';
import { InstanceWork } from './instance-work.js';
import { OpencodeClient, classifyHealthFailure, type HealthFailureClass } from './opencode-client.js';

const LISTENING_LINE = /opencode server listening on (https?:\/\/\S+)/;
const HEALTH_RETRY_MS = 100;

export { INSTANCE_STATES, type InstanceState } from '../../contracts/vocabulary.js';
import type { InstanceState } from '../../contracts/vocabulary.js';

export interface HealthResult {
  readonly ok: boolean;
  readonly latencyMs: number;
  readonly failureClass: HealthFailureClass | null;
}

export interface InstanceLaunch {
  readonly binary: string;
  /** The server's cwd: the slot's directory, or an isolated slot's workspace. */
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  /** Isolated slots: runs the server in its session's sandbox (see spawnTracked). */
  readonly sandbox?: SandboxWrapper;
  readonly serverStartTimeoutMs: number;
  readonly healthTimeoutMs: number;
  readonly killGraceMs: number;
  readonly logger: Logger;
  readonly processes?: ProcessStore;
}

export class StartFailedError extends Error {
  override readonly name = 'StartFailedError';
}

/** No connection to the instance could be made: the message never reached opencode and may go elsewhere. */
export class InstanceUnreachableError extends Error {
  override readonly name = 'InstanceUnreachableError';
}

/** One process lifetime of a slot. A restart makes a new ServerInstance for the same slot. */
export class ServerInstance {
  readonly password = randomBytes(24).toString('base64url');
  readonly startedAt = Date.now();
  private api: { readonly client: OpencodeClient; readonly events: EventHub; readonly port: number } | undefined;
  private plannedStopReason: string | undefined;
  private currentState: InstanceState = 'starting';
  /** Its running turns and served directories. */
  readonly work = new InstanceWork();
  private health: HealthResult | undefined;
  private healthFailuresInARow = 0;
  private rss = 0;
  private startRss = 0;
  private exitedNow = false;
  private suspected = false;
  /** The client between the listening line and a connected event stream (health checks only). */
  private listening: OpencodeClient | undefined;
  private child: TrackedChild | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    readonly slot: number,
    private readonly launch: InstanceLaunch,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The HTTP client of the server once it listens. */
  get client(): OpencodeClient | undefined {
    return this.api?.client ?? this.listening;
  }

  /** Its bus events, once connected. */
  get events(): EventHub | undefined {
    return this.api?.events;
  }

  get port(): number | undefined {
    return this.api?.port;
  }

  /** Why a planned stop happened; turns that fail during it say so. */
  get stopReason(): string | undefined {
    return this.plannedStopReason;
  }

  get state(): InstanceState {
    return this.currentState;
  }

  /** Turns running on this instance now. */
  get activeTurns(): number {
    return this.work.active;
  }

  /** Directories served, with the time each was last used. */
  get directories(): ReadonlyMap<string, number> {
    return this.work.directories;
  }

  get lastHealth(): HealthResult | undefined {
    return this.health;
  }

  /** Counts a periodic probe's result; returns the failed probes in a row. */
  recordProbe(health: HealthResult): number {
    this.healthFailuresInARow = health.ok ? 0 : this.healthFailuresInARow + 1;
    return this.healthFailuresInARow;
  }

  /** Resident bytes of the process tree, as last read. */
  get rssBytes(): number {
    return this.rss;
  }

  /** Set the moment the process exits, before its tree is swept: no turn may be sent to it after. */
  get processExited(): boolean {
    return this.exitedNow;
  }

  /**
   * Set when a turn's connection broke: the process may be dying before its exit is seen. The next
   * turn goes here only after a health check passes.
   */
  get suspect(): boolean {
    return this.suspected;
  }

  markSuspect(): void {
    this.suspected = true;
  }

  /** The process exited on its own (not a planned stop). */
  markExited(): void {
    this.currentState = 'stopped';
  }

  /** Resolves when the process exits (for whatever reason). */
  exited: Promise<TrackedResult> | undefined;

  /** Spawns and waits until ready; throws StartFailedError (the process is then gone). */
  async start(): Promise<void> {
    const { launch } = this;
    const deadline = Date.now() + launch.serverStartTimeoutMs;
    let onListening!: (url: string) => void;
    const listening = new Promise<string>((resolve) => (onListening = resolve));
    const log = launch.logger;
    // opencode's --port 0 means its fixed default (4096) first: pick a free port so instances never race for it.
    const port = await findFreePort();
    this.child = await spawnTracked({
      file: launch.binary,
      args: ['serve', '--hostname', '127.0.0.1', '--port', String(port)],
      cwd: launch.cwd,
      env: { ...launch.env, OPENCODE_SERVER_PASSWORD: this.password },
      sandbox: launch.sandbox,
      killGraceMs: launch.killGraceMs,
      registry: launch.processes === undefined ? undefined : { store: launch.processes, kind: 'serve' },
      onCleanupError: (error) => log.warn('Housekeeping task failed', { task: 'tmp_cleanup', slot: this.slot, error: errorMessage(error) }),
      onStdoutLine: (line) => {
        const match = LISTENING_LINE.exec(line);
        if (match?.[1] !== undefined) onListening(match[1]);
        else if (line.trim() !== '') log.debug('opencode serve stdout', { slot: this.slot, line: line.slice(0, 500) });
      },
      onStderrLine: (line) => {
        if (line.trim() !== '') log.debug('opencode serve stderr', { slot: this.slot, line: line.slice(0, 500) });
      },
    });
    const child = this.child;
    this.exited = child.done;
    // Whatever ends the process, nothing may be sent to it any more, and its event stream must stop
    // reconnecting to a dead port (also when its end could not be followed: the watch rejected).
    const ended = (): void => {
      this.exitedNow = true;
      this.events?.close();
    };
    void child.exited.then(ended, ended);
    try {
      // Nothing may be sent before the listening line: earlier requests hang forever (trap 3).
      const url = await this.race(listening, child, deadline, 'the listening line');
      const client = new OpencodeClient(url, this.password);
      this.listening = client;
      await this.race(this.waitHealthy(deadline), child, deadline, 'a healthy /global/health');
      const events = new EventHub(client, log);
      this.api = { client, events, port: Number(new URL(url).port) };
      await this.race(events.whenConnected(), child, deadline, 'the event stream');
      this.currentState = 'ready';
    } catch (error) {
      await this.kill();
      throw error;
    }
  }

  /** Waits for `promise`, failing if the process exits first or the start deadline passes. */
  private async race<T>(promise: Promise<T>, child: TrackedChild, deadline: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StartFailedError(`opencode serve did not produce ${what} within ${this.launch.serverStartTimeoutMs} ms`)),
        Math.max(0, deadline - Date.now()),
      );
    });
    const exit = child.done.then((result) => {
      const tail = result.stderrTail.slice(-3).join(' | ');
      throw new StartFailedError(
        `opencode serve exited before ${what} (code ${String(result.exitCode)}, signal ${String(result.signal)})${tail === '' ? '' : `: ${tail}`}`,
      );
    });
    try {
      return await Promise.race([promise, timeout, exit]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async waitHealthy(deadline: number): Promise<void> {
    for (;;) {
      const result = await this.checkHealth();
      if (result.ok) return;
      if (Date.now() >= deadline) {
        throw new StartFailedError(`opencode serve never answered healthy (last failure: ${result.failureClass ?? 'unknown'})`);
      }
      await new Promise((resolve) => setTimeout(resolve, HEALTH_RETRY_MS));
    }
  }

  /** One health probe, bounded by the health timeout: a pass clears a broken connection's suspicion. */
  async checkHealth(): Promise<HealthResult> {
    const started = performance.now();
    let result: HealthResult;
    try {
      if (this.client === undefined) throw new Error('not listening yet');
      const answer = await this.client.health(this.launch.healthTimeoutMs);
      result = { ok: answer.healthy, latencyMs: performance.now() - started, failureClass: answer.healthy ? null : 'bad_status' };
    } catch (error) {
      result = { ok: false, latencyMs: performance.now() - started, failureClass: classifyHealthFailure(error) };
    }
    this.health = result;
    if (result.ok) this.suspected = false;
    return result;
  }

  readMemory(): number {
    this.rss = this.child === undefined ? 0 : treeResidentBytes(this.child.identity);
    if (this.startRss === 0) this.startRss = this.rss;
    return this.rss;
  }

  /** The tree's resident bytes when first read (the supervisor reads it as the instance turns ready): what a start costs. */
  get startRssBytes(): number {
    return this.startRss;
  }

  /**
   * Planned stop: abort busy sessions through the API (which also ends their tool processes), then
   * SIGTERM, then SIGKILL whatever of the tree is left.
   */
  stop(reason: string): Promise<void> {
    this.plannedStopReason ??= reason;
    this.stopping ??= (async () => {
      this.currentState = 'stopping';
      const client = this.client;
      if (client !== undefined) {
        await Promise.allSettled([...this.work.busySessions].map(([id, directory]) => client.abortSession(id, directory, this.launch.healthTimeoutMs)));
      }
      await this.kill();
      this.currentState = 'stopped';
    })();
    return this.stopping;
  }

  private async kill(): Promise<void> {
    this.events?.close();
    const child = this.child;
    if (child === undefined) return;
    child.abort(new Error('server instance stopped'));
    await child.done;
  }

  /** Synchronous SIGKILL of the tree, for process exit. */
  killNow(): void {
    this.child?.killNow();
  }
}
