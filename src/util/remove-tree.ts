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
import { codeOf, runAsync, runSync, type Steps } from './remove-tree-operations.js';
import { OperationFailed, TreeChanged, walk } from './remove-tree-walk.js';

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

/** Removes `target` and everything under it, symlinks as links; resolves when it is gone (or was never there). */
export async function removeTree(target: string, options: RemoveTreeOptions = {}): Promise<void> {
  const steps = removalSteps(target, options.attempts ?? DEFAULT_ATTEMPTS);
  let step = steps.next();
  while (step.done !== true) {
    step = await runAsync(step.value).then(
      (result) => steps.next(result),
      (error: unknown) => steps.throw(error),
    );
  }
}

/** removeTree for exit handlers that cannot wait (no pause between walks). */
export function removeTreeSync(target: string, options: RemoveTreeOptions = {}): void {
  const steps = removalSteps(target, options.attempts ?? DEFAULT_ATTEMPTS);
  let step = steps.next();
  while (step.done !== true) {
    let result: unknown;
    try {
      result = runSync(step.value);
    } catch (error) {
      step = steps.throw(error);
      continue;
    }
    step = steps.next(result);
  }
}

/** Walks until the tree is gone, again (after a growing pause) while a racer keeps changing it. */
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
