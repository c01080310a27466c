// Removes a directory tree that someone else may write into (a session's workspace or home, a child's
// TMPDIR) without ever following a symbolic link and without being led out of the tree by a racer:
//
// - every entry is looked at with lstat; a symlink is unlinked (the link, never its target), a
//   directory is descended into only through a descriptor opened with O_NOFOLLOW | O_DIRECTORY whose
//   fstat shows the device and inode lstat saw;
// - every operation inside the tree is addressed relative to that descriptor (`/proc/self/fd/<fd>/<name>`,
//   Linux's openat/unlinkat through /proc), so swapping a directory of the tree for a symlink after it
//   was checked cannot redirect a later unlink, rmdir or readdir to another place;
// - a directory is removed (rmdir, which never follows a symlink) only after lstat shows it is still
//   the directory that was emptied (same device and inode); climbing back up goes through `..` of the
//   emptied directory, which must be the parent first seen;
// - a tree that changes under the walk (ENOTEMPTY: a racer creating files; an entry replaced mid-walk)
//   is walked again from the top, a bounded number of times, then the call fails with
//   RemoveTreeError. ENOENT is never an error: what is gone is removed.
//
// Only the last component of the path given is checked: the directories above it are the caller's.
// Names are handled as bytes, so a file whose name is not UTF-8 cannot make a removal fail.
import fs, { constants, type BigIntStats } from 'node:fs';
import fsp from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { errorMessage } from './guards.js';

export interface RemoveTreeOptions {
  /** Walks of the tree before giving up while it keeps changing (default 5). */
  readonly attempts?: number;
}

/** A removal that failed: the tree kept changing, or an operation failed (`code`: its errno code). */
export class RemoveTreeError extends Error {
  override readonly name = 'RemoveTreeError';
  constructor(
    message: string,
    /** The path given to removeTree. */
    readonly path: string,
    /** The errno code of the failed operation (`ENOTEMPTY` when a racer kept adding files), if any. */
    readonly code: string | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const DEFAULT_ATTEMPTS = 5;
const RETRY_PAUSE_MS = 20;
const DIRECTORY_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
const PARENT = Buffer.from('..');

/** Removes `target` and everything under it, symlinks as links; resolves when it is gone (or was never there). */
export async function removeTree(target: string, options: RemoveTreeOptions = {}): Promise<void> {
  const steps = removalSteps(target, options.attempts ?? DEFAULT_ATTEMPTS);
  let step = steps.next();
  while (step.done !== true) {
    let result: unknown;
    let failure: { error: unknown } | undefined;
    try {
      result = await runAsync(step.value);
    } catch (error) {
      failure = { error };
    }
    step = failure === undefined ? steps.next(result) : steps.throw(failure.error);
  }
}

/** removeTree for exit handlers that cannot wait (no pause between walks). */
export function removeTreeSync(target: string, options: RemoveTreeOptions = {}): void {
  const steps = removalSteps(target, options.attempts ?? DEFAULT_ATTEMPTS);
  let step = steps.next();
  while (step.done !== true) {
    let result: unknown;
    let failure: { error: unknown } | undefined;
    try {
      result = runSync(step.value);
    } catch (error) {
      failure = { error };
    }
    step = failure === undefined ? steps.next(result) : steps.throw(failure.error);
  }
}

// The walk is written once, as a generator of file-system operations; removeTree and removeTreeSync
// run each operation (async or sync) and hand back its result or throw its error into the walk.
type Op =
  | { readonly kind: 'lstat'; readonly path: Buffer }
  | { readonly kind: 'open'; readonly path: Buffer }
  | { readonly kind: 'fstat'; readonly fd: number }
  | { readonly kind: 'readdir'; readonly fd: number }
  | { readonly kind: 'unlink'; readonly path: Buffer }
  | { readonly kind: 'rmdir'; readonly path: Buffer }
  | { readonly kind: 'close'; readonly fd: number }
  | { readonly kind: 'pause'; readonly ms: number };

type Steps<T> = Generator<Op, T, unknown>;

const fdDir = (fd: number): string => `/proc/self/fd/${fd}`;
const openAsync = promisify(fs.open);
const closeAsync = promisify(fs.close);
const fstatAsync = promisify(fs.fstat);

async function runAsync(op: Op): Promise<unknown> {
  switch (op.kind) {
    case 'lstat':
      return fsp.lstat(op.path, { bigint: true });
    case 'open':
      return openAsync(op.path, DIRECTORY_FLAGS);
    case 'fstat':
      return fstatAsync(op.fd, { bigint: true });
    case 'readdir':
      return fsp.readdir(fdDir(op.fd), { encoding: 'buffer' });
    case 'unlink':
      return fsp.unlink(op.path);
    case 'rmdir':
      return fsp.rmdir(op.path);
    case 'close':
      return closeAsync(op.fd);
    case 'pause':
      return delay(op.ms);
  }
}

function runSync(op: Op): unknown {
  switch (op.kind) {
    case 'lstat':
      return fs.lstatSync(op.path, { bigint: true });
    case 'open':
      return fs.openSync(op.path, DIRECTORY_FLAGS);
    case 'fstat':
      return fs.fstatSync(op.fd, { bigint: true });
    case 'readdir':
      return fs.readdirSync(fdDir(op.fd), { encoding: 'buffer' });
    case 'unlink':
      return fs.unlinkSync(op.path);
    case 'rmdir':
      return fs.rmdirSync(op.path);
    case 'close':
      return fs.closeSync(op.fd);
    case 'pause':
      return undefined;
  }
}

function* perform<T>(op: Op): Steps<T> {
  return (yield op) as T;
}

const codeOf = (error: unknown): string | undefined =>
  error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string' ? (error as NodeJS.ErrnoException).code : undefined;

/** Runs `op`; undefined when its target is gone (ENOENT). */
function* unlessGone<T>(op: Op): Steps<T | undefined> {
  try {
    return yield* perform<T>(op);
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return undefined;
    throw error;
  }
}

/** The tree changed under the walk: walk it again. */
class TreeChanged extends Error {
  constructor(
    readonly where: string,
    readonly code: string,
  ) {
    super(`${where} changed during the removal (${code})`);
  }
}

/** The operation failed on `where` (kept for the message: the operation itself names /proc/self/fd/…). */
class OperationFailed extends Error {
  constructor(
    readonly where: string,
    readonly error: unknown,
  ) {
    super(`${where}: ${errorMessage(error)}`);
  }
}

interface Directory {
  /** Its name in its parent (the whole path for the top). */
  readonly name: Buffer;
  /** For messages only. */
  readonly shown: string;
  readonly dev: bigint;
  readonly ino: bigint;
  entries: Buffer[] | undefined;
  next: number;
}

const sameNode = (stats: BigIntStats, directory: Directory): boolean => stats.dev === directory.dev && stats.ino === directory.ino;
const inside = (fd: number, name: Buffer): Buffer => Buffer.concat([Buffer.from(`${fdDir(fd)}/`), name]);

function* removalSteps(target: string, attempts: number): Steps<void> {
  let last: TreeChanged | undefined;
  for (let attempt = 0; attempt < Math.max(1, attempts); attempt += 1) {
    if (attempt > 0) yield { kind: 'pause', ms: RETRY_PAUSE_MS * attempt };
    try {
      yield* walk(target);
      return;
    } catch (error) {
      if (error instanceof TreeChanged) {
        last = error;
        continue;
      }
      if (error instanceof OperationFailed) {
        throw new RemoveTreeError(`Could not remove ${target}: ${error.message}`, target, codeOf(error.error), { cause: error.error });
      }
      throw new RemoveTreeError(`Could not remove ${target}: ${String(error)}`, target, codeOf(error), { cause: error });
    }
  }
  throw new RemoveTreeError(
    `Could not remove ${target}: it kept changing during ${attempts} attempts (last: ${last?.message ?? 'unknown'})`,
    target,
    last?.code,
  );
}

/** Runs `op` on `where`: ENOENT gives undefined, a change by a racer TreeChanged, anything else OperationFailed. */
function* step<T>(op: Op, where: string, changedCodes: readonly string[] = []): Steps<T | undefined> {
  try {
    return yield* unlessGone<T>(op);
  } catch (error) {
    const code = codeOf(error);
    if (code !== undefined && changedCodes.includes(code)) throw new TreeChanged(where, code);
    throw new OperationFailed(where, error);
  }
}

/** Opens the directory `stats` describes, or undefined when it is gone; TreeChanged when it is no longer that directory. */
function* openDirectory(path: Buffer, stats: BigIntStats, shown: string): Steps<number | undefined> {
  // ENOTDIR / ELOOP: replaced by a file or a symlink since the lstat.
  const fd = yield* step<number>({ kind: 'open', path }, shown, ['ENOTDIR', 'ELOOP']);
  if (fd === undefined) return undefined;
  let opened: BigIntStats;
  try {
    opened = (yield* step<BigIntStats>({ kind: 'fstat', fd }, shown))!;
  } catch (error) {
    yield* closeQuietly(fd);
    throw error;
  }
  if (opened.dev !== stats.dev || opened.ino !== stats.ino) {
    yield* closeQuietly(fd);
    throw new TreeChanged(shown, 'EREPLACED');
  }
  return fd;
}

function* closeQuietly(fd: number): Steps<void> {
  try {
    yield* perform({ kind: 'close', fd });
  } catch {
    // Closing a descriptor we opened does not fail in a way that matters here.
  }
}

/** One walk: depth first, one directory descriptor open at a time. */
function* walk(target: string): Steps<void> {
  const root = Buffer.from(target);
  const top = yield* step<BigIntStats>({ kind: 'lstat', path: root }, target);
  if (top === undefined) return;
  if (!top.isDirectory()) {
    // A file, or a symlink (removed as a link). EISDIR: replaced by a directory since the lstat.
    yield* step({ kind: 'unlink', path: root }, target, ['EISDIR']);
    return;
  }
  const rootFd = yield* openDirectory(root, top, target);
  if (rootFd === undefined) return;
  let fd = rootFd;
  const stack: Directory[] = [{ name: root, shown: target, dev: top.dev, ino: top.ino, entries: undefined, next: 0 }];
  const open = new Set<number>([fd]);
  try {
    for (;;) {
      const directory = stack[stack.length - 1]!;
      directory.entries ??= (yield* step<Buffer[]>({ kind: 'readdir', fd }, directory.shown)) ?? [];
      const name = directory.entries[directory.next];
      if (name !== undefined) {
        directory.next += 1;
        const shown = `${directory.shown}/${name.toString()}`;
        const path = inside(fd, name);
        const stats = yield* step<BigIntStats>({ kind: 'lstat', path }, shown);
        if (stats === undefined) continue;
        if (!stats.isDirectory()) {
          yield* step({ kind: 'unlink', path }, shown, ['EISDIR']);
          continue;
        }
        const childFd = yield* openDirectory(path, stats, shown);
        if (childFd === undefined) continue;
        open.add(childFd);
        open.delete(fd);
        yield* closeQuietly(fd);
        fd = childFd;
        stack.push({ name, shown, dev: stats.dev, ino: stats.ino, entries: undefined, next: 0 });
        continue;
      }
      // Emptied. The top is removed by its path (its parent is the caller's), after checking it is still the same directory.
      if (stack.length === 1) {
        const now = yield* step<BigIntStats>({ kind: 'lstat', path: root }, target);
        if (now === undefined) return;
        if (!sameNode(now, directory)) throw new TreeChanged(target, 'EREPLACED');
        yield* step({ kind: 'rmdir', path: root }, target, ['ENOTEMPTY', 'EEXIST', 'ENOTDIR']);
        return;
      }
      // Back up through `..` of the emptied directory: it must be the parent first seen (not moved meanwhile).
      const parent = stack[stack.length - 2]!;
      const parentFd = yield* step<number>({ kind: 'open', path: inside(fd, PARENT) }, directory.shown);
      if (parentFd === undefined) throw new TreeChanged(directory.shown, 'ENOENT');
      open.add(parentFd);
      const parentStats = (yield* step<BigIntStats>({ kind: 'fstat', fd: parentFd }, parent.shown))!;
      if (!sameNode(parentStats, parent)) throw new TreeChanged(directory.shown, 'EMOVED');
      const path = inside(parentFd, directory.name);
      const now = yield* step<BigIntStats>({ kind: 'lstat', path }, directory.shown);
      if (now !== undefined) {
        if (!sameNode(now, directory)) throw new TreeChanged(directory.shown, 'EREPLACED');
        yield* step({ kind: 'rmdir', path }, directory.shown, ['ENOTEMPTY', 'EEXIST', 'ENOTDIR']);
      }
      open.delete(fd);
      yield* closeQuietly(fd);
      fd = parentFd;
      stack.pop();
    }
  } finally {
    for (const descriptor of open) yield* closeQuietly(descriptor);
  }
}
