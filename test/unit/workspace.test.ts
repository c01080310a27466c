// resolveWorkspace on real directories: what lies inside the root is created and accepted, what
// leaves it (by `..`, an absolute path or a symlink) or is not a directory is rejected.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, realpath, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OcpmError } from '../../src/errors/errors.js';
import { prepareWorkspaceRoot, resolveWorkspace } from '../../src/workspace/resolve-workspace.js';

async function isDirectory(p: string): Promise<boolean> {
  return stat(p).then(
    (info) => info.isDirectory(),
    () => false,
  );
}

describe('workspaces', () => {
  let base: string;
  let root: string;
  let outside: string;

  before(async () => {
    base = await realpath(await mkdtemp(path.join(os.tmpdir(), 'ocpm-test-workspace-')));
    outside = path.join(base, 'outside');
    await mkdir(outside);
    root = await prepareWorkspaceRoot(path.join(base, 'root'));
  });
  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  async function rejects(input: string, message?: RegExp): Promise<void> {
    await assert.rejects(resolveWorkspace(root, input), (error: unknown) => {
      assert.ok(error instanceof OcpmError, `expected an OcpmError, got ${String(error)}`);
      assert.equal(error.code, 'invalid_workspace');
      if (message !== undefined) assert.match(error.message, message);
      return true;
    });
  }

  describe('prepareWorkspaceRoot', () => {
    it('creates a missing root, nested, and returns its real path', async () => {
      const wanted = path.join(base, 'made', 'by', 'prepare');
      assert.equal(await isDirectory(wanted), false);
      assert.equal(await prepareWorkspaceRoot(wanted), wanted);
      assert.equal(await isDirectory(wanted), true);
    });

    it('returns the real path of a root reached through a symlink', async () => {
      const link = path.join(base, 'root-link');
      await symlink(root, link);
      assert.equal(await prepareWorkspaceRoot(link), root);
    });

    it('accepts an existing root', async () => {
      assert.equal(await prepareWorkspaceRoot(root), root);
    });
  });

  describe('resolveWorkspace accepts', () => {
    it('a relative name, creating the directory inside the root', async () => {
      const expected = path.join(root, 'project-a');
      assert.equal(await isDirectory(expected), false);
      assert.equal(await resolveWorkspace(root, 'project-a'), expected);
      assert.equal(await isDirectory(expected), true);
    });

    it('an existing directory, unchanged', async () => {
      await mkdir(path.join(root, 'existing'));
      await writeFile(path.join(root, 'existing', 'keep.txt'), 'kept');
      assert.equal(await resolveWorkspace(root, 'existing'), path.join(root, 'existing'));
      assert.equal((await stat(path.join(root, 'existing', 'keep.txt'))).size, 4);
    });

    it('a nested relative path, creating every level', async () => {
      const expected = path.join(root, 'team', 'app', 'src');
      assert.equal(await resolveWorkspace(root, 'team/app/src'), expected);
      assert.equal(await isDirectory(expected), true);
    });

    it('an absolute path inside the root', async () => {
      const expected = path.join(root, 'absolute-ws');
      assert.equal(await resolveWorkspace(root, expected), expected);
      assert.equal(await isDirectory(expected), true);
    });

    it('a path with a `..` that stays inside the root, normalised', async () => {
      assert.equal(await resolveWorkspace(root, 'a/../b'), path.join(root, 'b'));
      assert.equal(await isDirectory(path.join(root, 'a')), false);
    });

    it('a symlink inside the root to another directory inside the root, as the real path', async () => {
      const target = path.join(root, 'real-target');
      await mkdir(target);
      await symlink(target, path.join(root, 'alias'));
      assert.equal(await resolveWorkspace(root, 'alias'), target);
      assert.equal(await resolveWorkspace(root, 'alias/sub'), path.join(target, 'sub'));
      assert.equal(await isDirectory(path.join(target, 'sub')), true);
    });

    it('names that merely start with two dots', async () => {
      assert.equal(await resolveWorkspace(root, '..foo'), path.join(root, '..foo'));
      assert.equal(await resolveWorkspace(root, '...'), path.join(root, '...'));
    });

    it('a relative symlink inside the root that stays inside', async () => {
      await mkdir(path.join(root, 'rel-target'));
      await symlink('rel-target', path.join(root, 'rel-alias'));
      assert.equal(await resolveWorkspace(root, 'rel-alias'), path.join(root, 'rel-target'));
    });
  });

  describe('resolveWorkspace rejects', () => {
    it("'..'", async () => {
      await rejects('..', /inside the workspace root/);
    });

    it("'../x' and creates nothing", async () => {
      await rejects('../x', /inside the workspace root/);
      assert.equal(await isDirectory(path.join(base, 'x')), false);
    });

    it("'a/../../y'", async () => {
      await rejects('a/../../y', /inside the workspace root/);
      assert.equal(await isDirectory(path.join(base, 'y')), false);
    });

    it('an absolute path outside the root', async () => {
      await rejects(outside, /inside the workspace root/);
      await rejects(path.join(outside, 'new'), /inside the workspace root/);
      assert.equal(await isDirectory(path.join(outside, 'new')), false);
      await rejects('/', /inside the workspace root/);
    });

    it('a sibling whose name starts with the root name', async () => {
      await rejects(`${root}-evil`, /inside the workspace root/);
      assert.equal(await isDirectory(`${root}-evil`), false);
    });

    it('the root itself', async () => {
      await rejects('.', /inside the workspace root/);
      await rejects(root, /inside the workspace root/);
      await rejects(`${root}/`, /inside the workspace root/);
    });

    it('a symlink inside the root that points outside', async () => {
      await symlink(outside, path.join(root, 'escape'));
      await rejects('escape', /outside the workspace root/);
    });

    it('a symlink inside the root that points at the root', async () => {
      await symlink(root, path.join(root, 'self'));
      await rejects('self', /inside the workspace root|outside the workspace root/);
    });

    it('an existing path through a symlink that points outside', async () => {
      await mkdir(path.join(outside, 'existing-sub'));
      await symlink(outside, path.join(root, 'escape2'));
      await rejects('escape2/existing-sub', /outside the workspace root/);
    });

    it('a new path through a symlink that points outside', async () => {
      await symlink(outside, path.join(root, 'escape3'));
      await rejects('escape3/new-sub/deeper', /outside the workspace root/);
      assert.equal(await isDirectory(path.join(outside, 'new-sub')), false, 'a directory was created outside the root');
    });

    it('a regular file', async () => {
      await writeFile(path.join(root, 'file.txt'), 'not a dir');
      await rejects('file.txt');
      await rejects('file.txt/below');
    });

    it('a symlink inside the root to a regular file inside the root', async () => {
      await writeFile(path.join(root, 'file2.txt'), 'not a dir');
      await symlink(path.join(root, 'file2.txt'), path.join(root, 'file-link'));
      await rejects('file-link');
    });

    it('a path with a NUL byte', async () => {
      await rejects('abc\0def', /NUL/);
      await rejects('\0', /NUL/);
      assert.equal(await isDirectory(path.join(root, 'abc')), false);
    });
  });
});
