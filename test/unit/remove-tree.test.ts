// removeTree / removeTreeSync on real files: a tree goes whole (nested, deep, names that are not
// UTF-8), a symlink inside it or at its top goes as a link and what it points to stays, a directory
// swapped for a symlink in the middle of the walk does not lead the removal out of the tree, a
// missing path is no error, and a writer racing the removal ends in a RemoveTreeError after a bounded
// number of walks, not in a hang or a crash.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { after, afterEach, before, describe, it, mock } from 'node:test';
import { RemoveTreeError, removeTree, removeTreeSync } from '../../src/util/remove-tree.js';
import { exitOf, waitForLine } from '../helpers/child-process.js';
import { makeTempDir } from '../helpers/fixtures.js';

/** What this process's descriptors point to, under `dir`. */
const descriptorsUnder = (dir: string): string[] =>
  readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target.startsWith(dir) ? [target] : [];
    } catch {
      return []; // the descriptor readdir itself used, closed since
    }
  });

describe('removeTree', () => {
  let temp: { dir: string; remove: () => Promise<void> };
  let n = 0;
  /** A fresh directory with `tree/` (to remove) and `outside/` (holding `keep.txt` and `sub/keep.txt`, which must survive). */
  const fixture = (): { tree: string; outside: string } => {
    const base = path.join(temp.dir, String(n++));
    const tree = path.join(base, 'tree');
    const outside = path.join(base, 'outside');
    mkdirSync(path.join(outside, 'sub'), { recursive: true });
    writeFileSync(path.join(outside, 'keep.txt'), 'keep');
    writeFileSync(path.join(outside, 'sub', 'keep.txt'), 'keep');
    mkdirSync(tree);
    return { tree, outside };
  };
  const assertOutsideIntact = (outside: string): void => {
    assert.equal(readFileSync(path.join(outside, 'keep.txt'), 'utf8'), 'keep');
    assert.equal(readFileSync(path.join(outside, 'sub', 'keep.txt'), 'utf8'), 'keep');
  };

  before(async () => {
    temp = await makeTempDir('remove-tree');
  });
  after(async () => {
    await temp.remove();
  });
  afterEach(() => {
    mock.restoreAll();
  });

  for (const [variant, remove] of [
    ['removeTree', (target: string) => removeTree(target)],
    [
      'removeTreeSync',
      (target: string) =>
        new Promise<void>((resolve) => {
          removeTreeSync(target);
          resolve();
        }),
    ],
  ] as const) {
    describe(variant, () => {
      it('removes a nested tree (files, empty and full directories, a name that is not UTF-8) and closes what it opened', async () => {
        const { tree } = fixture();
        mkdirSync(path.join(tree, 'a', 'b', 'c'), { recursive: true });
        mkdirSync(path.join(tree, 'empty'));
        for (const file of ['x', 'a/y', 'a/b/z', 'a/b/c/w']) writeFileSync(path.join(tree, file), file);
        writeFileSync(Buffer.concat([Buffer.from(`${tree}/a/`), Buffer.from([0x6e, 0xff, 0xfe])]), 'not utf-8');
        await remove(tree);
        assert.equal(existsSync(tree), false);
        assert.deepEqual(descriptorsUnder(path.dirname(tree)), []);
      });

      it('removes a tree whose paths are longer than PATH_MAX, one directory open at a time', async () => {
        const { tree } = fixture();
        // 2,100 levels of `d/`: deeper than any path can name, reachable only relative to a directory.
        let fd = await fsp.open(tree, 'r');
        for (let level = 0; level < 2100; level += 1) {
          await fsp.mkdir(`/proc/self/fd/${fd.fd}/d`);
          const next = await fsp.open(`/proc/self/fd/${fd.fd}/d`, 'r');
          await fd.close();
          fd = next;
        }
        await fsp.writeFile(`/proc/self/fd/${fd.fd}/bottom.txt`, 'deep');
        await fd.close();
        await remove(tree);
        assert.equal(existsSync(tree), false);
        assert.deepEqual(descriptorsUnder(path.dirname(tree)), []);
      });

      it('unlinks a symlink inside the tree and leaves the directory and file it points to alone', async () => {
        const { tree, outside } = fixture();
        mkdirSync(path.join(tree, 'nested'));
        symlinkSync(outside, path.join(tree, 'to-outside'));
        symlinkSync(path.join(outside, 'sub'), path.join(tree, 'nested', 'to-outside-sub'));
        symlinkSync(path.join(outside, 'keep.txt'), path.join(tree, 'to-file'));
        symlinkSync('..', path.join(tree, 'nested', 'loop'));
        symlinkSync(path.join(tree, 'missing'), path.join(tree, 'dangling'));
        await remove(tree);
        assert.equal(existsSync(tree), false);
        assertOutsideIntact(outside);
      });

      it('given a symlink, removes the link only', async () => {
        const { tree, outside } = fixture();
        const link = path.join(tree, '..', 'link');
        symlinkSync(outside, link);
        await remove(link);
        assert.throws(() => lstatSync(link), { code: 'ENOENT' });
        assertOutsideIntact(outside);
      });

      it('removes a single file, and takes a missing path (or a missing parent) as already removed', async () => {
        const { tree } = fixture();
        writeFileSync(path.join(tree, 'file'), 'x');
        await remove(path.join(tree, 'file'));
        assert.equal(existsSync(path.join(tree, 'file')), false);
        await remove(path.join(tree, 'nothing'));
        await remove(path.join(tree, 'no', 'such', 'parent'));
      });

      it('fails with RemoveTreeError, not a crash, when a parent of the path is a file', async () => {
        const { tree } = fixture();
        writeFileSync(path.join(tree, 'file'), 'x');
        await assert.rejects(remove(path.join(tree, 'file', 'below')), (error: unknown) => {
          assert.ok(error instanceof RemoveTreeError);
          assert.equal(error.code, 'ENOTDIR');
          assert.equal(error.path, path.join(tree, 'file', 'below'));
          return true;
        });
      });
    });
  }

  it('does not follow a directory swapped for a symlink between its lstat and its opening', async () => {
    const { tree, outside } = fixture();
    mkdirSync(path.join(tree, 'a', 'sub'), { recursive: true });
    writeFileSync(path.join(tree, 'a', 'keep.txt'), 'inside');
    writeFileSync(path.join(tree, 'a', 'sub', 'keep.txt'), 'inside');
    const lstat = fsp.lstat.bind(fsp);
    let swapped = false;
    // The racer acts right after the walk saw `a` as a directory: `a` becomes a link to outside/.
    mock.method(fsp, 'lstat', async (target: Buffer, options: { bigint: true }) => {
      const stats = await lstat(target, options);
      if (!swapped && target.toString().endsWith('/a') && stats.isDirectory()) {
        swapped = true;
        renameSync(path.join(tree, 'a'), path.join(tree, 'a-moved'));
        symlinkSync(outside, path.join(tree, 'a'));
      }
      return stats;
    });
    await removeTree(tree);
    assert.ok(swapped);
    assert.equal(existsSync(tree), false);
    assertOutsideIntact(outside);
  });

  it('keeps working inside the directories it opened when a racer replaces one of them by a symlink mid-walk', async () => {
    const { tree, outside } = fixture();
    // outside/sub/keep.txt has the same relative path under the link as tree/mid/sub/keep.txt: a
    // removal that resolved tree/mid/sub/keep.txt again after the swap would delete the outside one.
    mkdirSync(path.join(tree, 'mid', 'sub'), { recursive: true });
    writeFileSync(path.join(tree, 'mid', 'sub', 'trigger'), 'x');
    writeFileSync(path.join(tree, 'mid', 'sub', 'keep.txt'), 'inside');
    const unlink = fsp.unlink.bind(fsp);
    let swapped = false;
    mock.method(fsp, 'unlink', async (target: Buffer) => {
      if (!swapped && target.toString().endsWith('/trigger')) {
        // The walk is inside tree/mid/sub: tree/mid moves away and a link to outside/ takes its place.
        swapped = true;
        renameSync(path.join(tree, 'mid'), path.join(tree, 'mid-moved'));
        symlinkSync(outside, path.join(tree, 'mid'));
      }
      return unlink(target);
    });
    await removeTree(tree);
    assert.ok(swapped);
    assert.equal(existsSync(tree), false);
    assertOutsideIntact(outside);
  });

  it('gives up with RemoveTreeError (ENOTEMPTY) after the attempts asked for when a writer adds a file before every rmdir', async () => {
    const { tree } = fixture();
    writeFileSync(path.join(tree, 'x'), 'x');
    const rmdir = fsp.rmdir.bind(fsp);
    let rmdirs = 0;
    mock.method(fsp, 'rmdir', async (target: Buffer) => {
      rmdirs += 1;
      writeFileSync(path.join(tree, `late-${rmdirs}`), 'x');
      return rmdir(target);
    });
    await assert.rejects(removeTree(tree, { attempts: 3 }), (error: unknown) => {
      assert.ok(error instanceof RemoveTreeError);
      assert.equal(error.code, 'ENOTEMPTY');
      assert.match(error.message, /kept changing during 3 attempts/);
      return true;
    });
    assert.equal(rmdirs, 3);
  });

  it('ends in a RemoveTreeError (or a removal) when a child process keeps writing into the tree, never a hang or a crash', async (t) => {
    const { tree, outside } = fixture();
    symlinkSync(outside, path.join(tree, 'link'));
    // Keeps 300 files (and the directory) in place as fast as it can; each walk removes them and finds them back.
    const racer = spawn(
      process.execPath,
      [
        '-e',
        `const fs = require('node:fs');
         const dir = process.argv[1];
         console.log('racing');
         for (;;) {
           for (let i = 0; i < 300; i += 1) {
             try { fs.writeFileSync(dir + '/f' + i, 'x', { flag: 'wx' }); } catch (error) {
               if (error.code === 'ENOENT') fs.mkdirSync(dir, { recursive: true });
             }
           }
         }`,
        tree,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    t.after(async () => {
      racer.kill('SIGKILL');
      await exitOf(racer);
    });
    await waitForLine(racer, 'the racer', (line) => (line === 'racing' ? true : undefined), 10_000);
    const started = Date.now();
    const outcome = await removeTree(tree, { attempts: 3 }).then(
      () => 'removed',
      (error: unknown) => error,
    );
    if (outcome === 'removed') {
      t.diagnostic('the racer lost every race this time: the tree was removed');
    } else {
      assert.ok(outcome instanceof RemoveTreeError, String(outcome));
      assert.equal(outcome.code, 'ENOTEMPTY');
    }
    assert.ok(Date.now() - started < 20_000, 'the removal took too long');
    assert.equal(racer.exitCode, null, 'the racer should still be running');
    racer.kill('SIGKILL');
    await exitOf(racer);
    // Without the racer the same call finishes the job.
    await removeTree(tree);
    assert.equal(existsSync(tree), false);
    assertOutsideIntact(outside);
  });
});
