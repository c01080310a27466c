// The file-system operations of a removal. The walk is written once, as a generator that yields each
// operation; removeTree and removeTreeSync perform it with the async or the sync form of the same
// node:fs call, on the same arguments, and hand back its result or throw its error into the walk.
import fs, { constants } from 'node:fs';
import fsp from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';

export type Op =
  | { readonly kind: 'lstat'; readonly path: Buffer }
  | { readonly kind: 'open'; readonly path: Buffer }
  | { readonly kind: 'fstat'; readonly fd: number }
  | { readonly kind: 'readdir'; readonly fd: number }
  | { readonly kind: 'unlink'; readonly path: Buffer }
  | { readonly kind: 'rmdir'; readonly path: Buffer }
  | { readonly kind: 'close'; readonly fd: number }
  | { readonly kind: 'pause'; readonly ms: number };

export type Steps<T> = Generator<Op, T, unknown>;

type FsOp = Exclude<Op, { readonly kind: 'pause' }>;
/** A node:fs function, called only with the arguments argsOf builds for its operation. */
type Form<R> = (...args: never[]) => R;

const DIRECTORY_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

const openAsync = promisify(fs.open);
const fstatAsync = promisify(fs.fstat);
const closeAsync = promisify(fs.close);

/**
 * Each operation's node:fs call in its two forms, looked up at each call as a direct call would be
 * (a test that replaces `fsp.lstat` sees the walk use its replacement).
 */
const FORMS: Record<FsOp['kind'], { readonly sync: () => Form<unknown>; readonly async: () => Form<Promise<unknown>> }> = {
  lstat: { sync: () => fs.lstatSync, async: () => fsp.lstat },
  open: { sync: () => fs.openSync, async: () => openAsync },
  fstat: { sync: () => fs.fstatSync, async: () => fstatAsync },
  readdir: { sync: () => fs.readdirSync, async: () => fsp.readdir },
  unlink: { sync: () => fs.unlinkSync, async: () => fsp.unlink },
  rmdir: { sync: () => fs.rmdirSync, async: () => fsp.rmdir },
  close: { sync: () => fs.closeSync, async: () => closeAsync },
};

export const fdDir = (fd: number): string => `/proc/self/fd/${fd}`;

function argsOf(op: FsOp): unknown[] {
  switch (op.kind) {
    case 'lstat':
      return [op.path, { bigint: true }];
    case 'open':
      return [op.path, DIRECTORY_FLAGS];
    case 'fstat':
      return [op.fd, { bigint: true }];
    case 'readdir':
      return [fdDir(op.fd), { encoding: 'buffer' }];
    case 'unlink':
    case 'rmdir':
      return [op.path];
    case 'close':
      return [op.fd];
  }
}

function call<R>(form: Form<R>, op: FsOp): R {
  return (form as (...args: unknown[]) => R)(...argsOf(op));
}

export async function runAsync(op: Op): Promise<unknown> {
  return op.kind === 'pause' ? delay(op.ms) : call(FORMS[op.kind].async(), op);
}

/** No pause: the sync removal is for exit handlers, which cannot wait. */
export function runSync(op: Op): unknown {
  return op.kind === 'pause' ? undefined : call(FORMS[op.kind].sync(), op);
}

/** Yields `op` to the driver and returns what it gave back. */
export function* perform<T>(op: Op): Steps<T> {
  return (yield op) as T;
}

export const codeOf = (error: unknown): string | undefined =>
  error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string' ? (error as NodeJS.ErrnoException).code : undefined;

/** Runs `op`; undefined when its target is gone (ENOENT). */
export function* unlessGone<T>(op: Op): Steps<T | undefined> {
  try {
    return yield* perform<T>(op);
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return undefined;
    throw error;
  }
}
