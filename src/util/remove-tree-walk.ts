// One walk of the tree being removed: depth first, one directory descriptor open at a time, every
// operation addressed through the descriptor of the directory it is in. A change a racer made is
// thrown as TreeChanged (the caller walks again); any other failure as OperationFailed.
import type { BigIntStats } from 'node:fs';
import { errorMessage } from './guards.js';
import { codeOf, fdDir, perform, unlessGone, type Op, type Steps } from './remove-tree-operations.js';

const PARENT = Buffer.from('..');
/** What rmdir fails with when a racer put something in the directory, or replaced it. */
const RMDIR_CHANGED = ['ENOTEMPTY', 'EEXIST', 'ENOTDIR'];

/** The tree changed under the walk: walk it again. */
export class TreeChanged extends Error {
  constructor(
    readonly where: string,
    readonly code: string,
  ) {
    super(`${where} changed during the removal (${code})`);
  }
}

/** The operation failed on `where` (kept for the message: the operation itself names /proc/self/fd/…). */
export class OperationFailed extends Error {
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

/** Removes the emptied `directory` by `path` once lstat shows it is still that directory (rmdir never follows a symlink). */
function* removeEmptied(path: Buffer, directory: Directory): Steps<void> {
  const now = yield* step<BigIntStats>({ kind: 'lstat', path }, directory.shown);
  if (now === undefined) return;
  if (!sameNode(now, directory)) throw new TreeChanged(directory.shown, 'EREPLACED');
  yield* step({ kind: 'rmdir', path }, directory.shown, RMDIR_CHANGED);
}

export function* walk(target: string): Steps<void> {
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
      // Emptied. The top is removed by its path (its parent is the caller's).
      if (stack.length === 1) {
        yield* removeEmptied(root, directory);
        return;
      }
      // Back up through `..` of the emptied directory: it must be the parent first seen (not moved meanwhile).
      const parent = stack[stack.length - 2]!;
      const parentFd = yield* step<number>({ kind: 'open', path: inside(fd, PARENT) }, directory.shown);
      if (parentFd === undefined) throw new TreeChanged(directory.shown, 'ENOENT');
      open.add(parentFd);
      const parentStats = (yield* step<BigIntStats>({ kind: 'fstat', fd: parentFd }, parent.shown))!;
      if (!sameNode(parentStats, parent)) throw new TreeChanged(directory.shown, 'EMOVED');
      yield* removeEmptied(inside(parentFd, directory.name), directory);
      open.delete(fd);
      yield* closeQuietly(fd);
      fd = parentFd;
      stack.pop();
    }
  } finally {
    for (const descriptor of open) yield* closeQuietly(descriptor);
  }
}
