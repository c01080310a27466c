// linkSharedPlugin writes on a session's behalf into a tree the session's agent can write: only into
// an `opencode` directory it creates itself, never through a link the agent planted.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readlink, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { linkSharedPlugin } from '../../src/manager/isolation/shared-plugin.js';
import { makeTempDir } from '../helpers/fixtures.js';

describe('linkSharedPlugin', () => {
  let temp: { dir: string; remove: () => Promise<void> };
  let plugin = '';
  before(async () => {
    temp = await makeTempDir('shared-plugin');
    plugin = path.join(temp.dir, 'shared-plugin');
    await mkdir(path.join(plugin, 'node_modules'), { recursive: true });
    for (const name of ['package.json', 'package-lock.json']) await writeFile(path.join(plugin, name), '{}');
  });
  after(async () => {
    await temp.remove();
  });

  it('links a fresh config home: node_modules to the shared install, its manifests copied', async () => {
    const config = path.join(temp.dir, 'fresh', 'config');
    await mkdir(config, { recursive: true });
    await linkSharedPlugin(config, plugin);
    assert.equal(await readlink(path.join(config, 'opencode', 'node_modules')), path.join(plugin, 'node_modules'));
    assert.ok((await lstat(path.join(config, 'opencode', 'package.json'))).isFile());
  });

  it('writes nothing through a config home the agent replaced by a link to another home', async () => {
    const victim = path.join(temp.dir, 'victim-config');
    await mkdir(victim, { recursive: true });
    const config = path.join(temp.dir, 'hostile', 'config');
    await mkdir(path.dirname(config), { recursive: true });
    await symlink(victim, config);
    await linkSharedPlugin(config, plugin);
    assert.deepEqual(await readdir(victim), []);
  });

  it('writes nothing through an `opencode` directory the agent replaced by a link, nor into one opencode already used', async () => {
    const victim = path.join(temp.dir, 'victim-opencode');
    await mkdir(victim, { recursive: true });
    const config = path.join(temp.dir, 'hostile2', 'config');
    await mkdir(config, { recursive: true });
    await symlink(victim, path.join(config, 'opencode'));
    await linkSharedPlugin(config, plugin);
    assert.deepEqual(await readdir(victim), []);
    const used = path.join(temp.dir, 'used', 'config');
    await mkdir(path.join(used, 'opencode'), { recursive: true });
    await linkSharedPlugin(used, plugin);
    assert.equal(existsSync(path.join(used, 'opencode', 'node_modules')), false);
  });
});
