// Spawns one child the way every opencode child must be spawned: detached in its own process group,
// no shell, a private TMPDIR, a unique marker in its environment, stdin written then closed, output
// read line by line with a bounded stderr tail. Timeout and abort end the child and every descendant;
// `done` settles only after the child has exited and nothing of its tree is left alive.
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { execa } from 'execa';
import { removeTree, removeTreeSync } from '../../util/remove-tree.js';
import { SpawnFailedError } from '../../errors/errors.js';
import { createLineSplitter } from '../../util/line-splitter.js';
import { RingBuffer } from '../../util/ring-buffer.js';
import { stripAnsi } from '../../util/strip-ansi.js';
import { killTree, killTreeNow, type KillTreeResult } from './kill-tree.js';
import type { TreeIdentity } from './find-tree.js';
import type { ProcessRow, ProcessStore } from '../../store/process-store.js';
import { readCmdline, readProcInfo } from './proc.js';

/** The variable that marks every process of one child's tree; descendants inherit it. */
export const PROCESS_MARK_VARIABLE = 'OCPM_PROCESS_MARK';
const STREAM_CLOSE_WAIT_MS = 2000;

export interface SpawnTrackedOptions {
  readonly file: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** The child's whole environment (nothing of ours is inherited). PWD and TMPDIR are set here. */
  readonly env: Readonly<Record<string, string>>;
  /** Written to stdin, which is then closed. Without it stdin is /dev/null. */
  readonly stdin?: string;
  /** Undefined: no timeout (a long-lived server). */
  readonly timeoutMs?: number;
  /** Ends the child when it prints nothing (stdout or stderr) for this long; undefined or 0: never. */
  readonly stallTimeoutMs?: number;
  readonly killGraceMs: number;
  readonly signal?: AbortSignal;
  readonly onStdoutLine?: (line: string) => void;
  readonly onStderrLine?: (line: string) => void;
  readonly stderrTailLines?: number;
  readonly maxLineChars?: number;
  /** Where the child is recorded while it lives, so a crashed service's successor can reap it. */
  readonly registry?: { readonly store: ProcessStore; readonly kind: ProcessRow['kind'] };
  /** Runs the child through a sandbox launcher instead (it needs the private TMPDIR, known only here). */
  readonly sandbox?: SandboxWrapper;
  /** Told when the private TMPDIR could not be removed (it never fails `done`). */
  readonly onCleanupError?: (error: unknown) => void;
}

/** Turns `file args` into the sandboxed command (given the child's private TMPDIR). */
export type SandboxWrapper = (
  file: string,
  args: readonly string[],
  tmpDir: string,
) => { readonly file: string; readonly args: readonly string[]; readonly env: Readonly<Record<string, string>> };

export type Termination = 'exit' | 'timeout' | 'stall' | 'abort';

export interface TrackedResult {
  readonly pid: number;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly durationMs: number;
  readonly stderrTail: string[];
  readonly termination: Termination;
  readonly abortReason: unknown;
  /** What the kill (timeout/abort) or the after-exit sweep found and had to force. */
  readonly kill: KillTreeResult;
}

export interface TrackedChild {
  readonly processId: string;
  readonly pid: number;
  /** Identifies the child's whole tree (for memory accounting and kills). */
  readonly identity: TreeIdentity;
  readonly startedAt: number;
  /** Settles as soon as the child itself exits (before its tree is swept and `done` settles). */
  readonly exited: Promise<void>;
  readonly done: Promise<TrackedResult>;
  /** Ends the tree (SIGTERM, grace, SIGKILL); `done` settles with termination 'abort'. */
  abort(reason?: unknown): void;
  /** Synchronous SIGKILL of the whole tree (and removal of its TMPDIR), for exit handlers that cannot wait. */
  killNow(): void;
}

/** The child's private TMPDIR, named after its process id so a later boot can remove it after a crash. */
export function childTmpDir(processId: string): string {
  return path.join(os.tmpdir(), `ocpm-child-${processId}`);
}

export async function spawnTracked(options: SpawnTrackedOptions): Promise<TrackedChild> {
  const processId = randomUUID();
  const marker = `${PROCESS_MARK_VARIABLE}=${processId}`;
  const tmpDir = childTmpDir(processId);
  await mkdir(tmpDir, { mode: 0o700 });
  const startedAt = Date.now();
  const command = options.sandbox?.(options.file, options.args, tmpDir) ?? { file: options.file, args: options.args, env: {} };
  const subprocess = execa(command.file, [...command.args], {
    cwd: options.cwd,
    env: { ...options.env, ...command.env, PWD: options.cwd, TMPDIR: tmpDir, [PROCESS_MARK_VARIABLE]: processId },
    extendEnv: false,
    detached: true,
    cleanup: false,
    shell: false,
    ...(options.stdin === undefined ? { stdin: 'ignore' as const } : { input: options.stdin }),
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    reject: false,
    stripFinalNewline: false,
  });

  const pid = subprocess.pid;
  if (pid === undefined) {
    const failure = await subprocess;
    await removeTmpDir(tmpDir, options);
    throw new SpawnFailedError(`Could not start ${options.file}: ${failure.shortMessage ?? 'unknown error'}`, failure);
  }

  recordSpawn(options, processId, pid, startedAt);
  let rootAlive = true;
  const identity: TreeIdentity = { rootPid: pid, marker, rootAlive: () => rootAlive };
  const exited = once(subprocess, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const stderrTail = new RingBuffer<string>(options.stderrTailLines ?? 40);
  const maxLineChars = options.maxLineChars ?? 1024 * 1024;
  const stdoutLines = createLineSplitter((line) => options.onStdoutLine?.(line), maxLineChars);
  const stderrLines = createLineSplitter((raw) => {
    const line = stripAnsi(raw);
    stderrTail.push(line.length > 2000 ? `${line.slice(0, 2000)}…` : line);
    options.onStderrLine?.(line);
  }, maxLineChars);

  let termination: Termination = 'exit';
  let abortReason: unknown;
  let killing: Promise<KillTreeResult> | undefined;
  const stop = (kind: Exclude<Termination, 'exit'>, reason?: unknown): void => {
    if (killing !== undefined) return;
    termination = kind;
    abortReason = reason;
    killing = killTree(identity, options.killGraceMs);
  };
  const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => stop('timeout'), options.timeoutMs);
  const stallMs = options.stallTimeoutMs ?? 0;
  const stallTimer = stallMs > 0 ? setTimeout(() => stop('stall'), stallMs) : undefined;
  const activity = (): void => {
    stallTimer?.refresh();
  };
  subprocess.stdout.on('data', (chunk: Buffer) => {
    activity();
    stdoutLines.push(chunk);
  });
  subprocess.stderr.on('data', (chunk: Buffer) => {
    activity();
    stderrLines.push(chunk);
  });
  const onExternalAbort = (): void => stop('abort', options.signal?.reason);
  options.signal?.addEventListener('abort', onExternalAbort, { once: true });
  if (options.signal?.aborted === true) onExternalAbort();

  const done = (async (): Promise<TrackedResult> => {
    try {
      const [exitCode, signal] = await exited;
      rootAlive = false;
      clearTimeout(timer);
      clearTimeout(stallTimer);
      // Tool processes that escaped the group outlive opencode: sweep them on every exit.
      const stopped = killing === undefined ? undefined : await killing;
      const swept = await killTree(identity, options.killGraceMs);
      const kill = mergeKills(stopped, swept);
      await waitForStreams([subprocess.stdout, subprocess.stderr]);
      stdoutLines.end();
      stderrLines.end();
      return {
        pid,
        exitCode,
        signal,
        durationMs: Date.now() - startedAt,
        stderrTail: stderrTail.toArray(),
        termination,
        abortReason,
        kill,
      };
    } finally {
      clearTimeout(timer);
      clearTimeout(stallTimer);
      options.signal?.removeEventListener('abort', onExternalAbort);
      options.registry?.store.remove(processId);
      // The tree is dead by now (the launcher's lifetime, then the sweep): nothing races the removal,
      // which follows no link a session left in its TMPDIR anyway.
      await removeTmpDir(tmpDir, options);
    }
  })();

  return {
    processId,
    pid,
    identity,
    startedAt,
    exited: exited.then(
      () => undefined,
      () => undefined,
    ),
    done,
    abort: (reason?: unknown) => stop('abort', reason),
    killNow: () => {
      killTreeNow(identity);
      try {
        removeTreeSync(tmpDir);
      } catch (error) {
        options.onCleanupError?.(error);
      }
    },
  };
}

async function removeTmpDir(tmpDir: string, options: SpawnTrackedOptions): Promise<void> {
  try {
    await removeTree(tmpDir);
  } catch (error) {
    options.onCleanupError?.(error);
  }
}

function recordSpawn(options: SpawnTrackedOptions, processId: string, pid: number, startedAt: number): void {
  if (options.registry === undefined) return;
  // A child already gone still gets a row: the next boot looks for its marked descendants.
  const cmdline = readCmdline(pid) ?? '';
  options.registry.store.add({
    processId,
    pid,
    pgid: pid,
    startTime: readProcInfo(pid)?.startTime ?? 0,
    cmdline,
    kind: options.registry.kind,
    startedAt,
  });
}

function mergeKills(a: KillTreeResult | undefined, b: KillTreeResult): KillTreeResult {
  if (a === undefined) return b;
  return { found: a.found + b.found, forced: a.forced + b.forced, survivors: b.survivors };
}

/**
 * Output pipes end when every writer is dead, after their last 'data' event; bounded in case a
 * stranger still holds them.
 */
async function waitForStreams(streams: NodeJS.ReadableStream[]): Promise<void> {
  const controller = new AbortController();
  try {
    await Promise.race([
      Promise.allSettled(streams.map((stream) => finished(stream, { signal: controller.signal }))),
      delay(STREAM_CLOSE_WAIT_MS, undefined, { signal: controller.signal }),
    ]);
  } catch {
    // The delay rejects when aborted after the streams won the race.
  } finally {
    controller.abort();
  }
}
