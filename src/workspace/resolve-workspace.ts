// Confines workspaces to OCPM_WORKSPACE_ROOT. A workspace is given relative to the root or as an
// absolute path; after realpath it must lie strictly inside the root and be a directory. A missing
// directory inside the root is created (a builder app registers a session before its files exist).
import { mkdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { OcpmError } from '../errors/errors.js';

// Control characters and bidi overrides make a path that shows as something it is not (in logs, UIs).
// eslint-disable-next-line no-control-regex
const UNSAFE_PATH_CHARACTERS = /[\u0001-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

function isStrictlyInside(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  const escapes = relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative);
  return relative !== '' && !escapes;
}

/** The real path of the deepest part of `candidate` that exists (the root at least). */
async function realExistingAncestor(candidate: string): Promise<string> {
  let current = candidate;
  for (;;) {
    try {
      return await realpath(current);
    } catch {
      const parent = path.dirname(current);
      if (parent === current) throw new OcpmError('invalid_workspace', 'The workspace could not be resolved');
      current = parent;
    }
  }
}

function reject(message: string): never {
  throw new OcpmError('invalid_workspace', message);
}

/** The root's real path: created if missing, resolved once at boot. */
export async function prepareWorkspaceRoot(root: string): Promise<string> {
  await mkdir(root, { recursive: true });
  return realpath(root);
}

/** Returns the workspace's real path, or throws OcpmError('invalid_workspace'). */
export async function resolveWorkspace(realRoot: string, input: string): Promise<string> {
  if (input.includes('\0')) reject('The workspace path contains a NUL byte');
  if (UNSAFE_PATH_CHARACTERS.test(input)) reject('The workspace path contains control or bidirectional-override characters');
  const candidate = path.resolve(realRoot, input);
  if (!isStrictlyInside(realRoot, candidate)) reject('The workspace must be a directory inside the workspace root');
  // Check before creating anything: a symlink on the way must not make us create directories outside.
  const ancestor = await realExistingAncestor(candidate);
  if (ancestor !== realRoot && !isStrictlyInside(realRoot, ancestor)) {
    reject('The workspace resolves (through a symlink) outside the workspace root');
  }
  try {
    await mkdir(candidate, { recursive: true });
  } catch {
    reject('The workspace could not be created or is not a directory');
  }
  const real = await realpath(candidate).catch(() => reject('The workspace could not be resolved'));
  if (!isStrictlyInside(realRoot, real)) reject('The workspace resolves (through a symlink) outside the workspace root');
  const info = await stat(real);
  if (!info.isDirectory()) reject('The workspace is not a directory');
  return real;
}
