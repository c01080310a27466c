// The boot cache: what boot learned from opencode is kept in the data dir and used again only while
// everything it depends on is the same. The probed binary is a real executable that counts its runs.
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BOOT_CACHE_FILE, BootCache } from '../../src/manager/boot-cache.js';
import { catalogKey } from '../../src/manager/catalog/catalog-key.js';
import { findOpencodeBinary, type OpencodeBinary } from '../../src/manager/opencode-binary.js';
import { makeTempDir } from '../helpers/fixtures.js';

describe('boot cache', () => {
  let temp: { dir: string; remove: () => Promise<void> };
  before(async () => {
    temp = await makeTempDir('boot-cache');
  });
  after(async () => {
    await temp.remove();
  });

  it('keeps a value across instances under its key; another key or a corrupt file is a miss', async () => {
    const dir = path.join(temp.dir, 'plain');
    await mkdir(dir);
    new BootCache(dir).set('thing', 'k1', { a: 1 });
    assert.deepEqual(new BootCache(dir).get('thing', 'k1'), { a: 1 });
    assert.equal(new BootCache(dir).get('thing', 'k2'), undefined);
    await writeFile(path.join(dir, BOOT_CACHE_FILE), '{not json');
    assert.equal(new BootCache(dir).get('thing', 'k1'), undefined);
  });

  it('probes a binary once: the next boot reuses its answers until the file changes', async () => {
    const dir = path.join(temp.dir, 'probe');
    await mkdir(dir);
    const runs = path.join(dir, 'runs.log');
    const binary = path.join(dir, 'opencode');
    await writeFile(binary, `#!/bin/sh\necho "$*" >> '${runs}'\n[ "$1" = --version ] && echo 9.9.9\nexit 0\n`);
    await chmod(binary, 0o755);
    const find = () => findOpencodeBinary({ explicit: binary, env: { PATH: process.env.PATH ?? '' }, searchPath: {}, cwd: dir, cache: new BootCache(dir) });
    const count = async (): Promise<number> => (await readFile(runs, 'utf8').catch(() => '')).split('\n').filter((line) => line !== '').length;
    assert.deepEqual(await find(), { path: binary, source: 'OCPM_OPENCODE_BIN', version: '9.9.9', supportsServe: true });
    assert.equal(await count(), 2, '--version and serve --help');
    assert.equal((await find()).version, '9.9.9');
    assert.equal(await count(), 2, 'not probed again');
    const later = new Date(Date.now() + 5000);
    await utimes(binary, later, later);
    await find();
    assert.equal(await count(), 4, 'a changed file is probed again');
  });

  it("the catalog key follows opencode's config files and environment, not the loopback ports", async () => {
    const home = path.join(temp.dir, 'home');
    await mkdir(path.join(home, '.config', 'opencode'), { recursive: true });
    const binary: OpencodeBinary = { path: '/nonexistent/opencode', source: 'PATH', version: '1.0.0', supportsServe: true };
    const env = (port: number, extra: Record<string, string> = {}) => ({
      HOME: home,
      OPENCODE_CONFIG_CONTENT: JSON.stringify({ provider: { p: { options: { baseURL: `http://127.0.0.1:${port}/p` } } } }),
      ...extra,
    });
    const key = catalogKey(binary, env(1111));
    assert.equal(catalogKey(binary, env(2222)), key, 'the gateway port changes at each boot');
    assert.notEqual(catalogKey(binary, env(1111, { ANTHROPIC_API_KEY: 'x' })), key);
    assert.notEqual(catalogKey({ ...binary, version: '1.0.1' }, env(1111)), key);
    await mkdir(path.join(home, '.config', 'opencode', 'agent'));
    await writeFile(path.join(home, '.config', 'opencode', 'agent', 'reviewer.md'), '---\ndescription: reviews\n---\n');
    const withAgent = catalogKey(binary, env(1111));
    assert.notEqual(withAgent, key, 'an agent file added');
    await mkdir(path.join(home, '.config', 'opencode', 'node_modules', 'x'), { recursive: true });
    await writeFile(path.join(home, '.config', 'opencode', 'node_modules', 'x', 'index.js'), '');
    assert.equal(catalogKey(binary, env(1111)), withAgent, 'installed packages are not config');
  });
});
