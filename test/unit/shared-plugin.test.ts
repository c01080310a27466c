// The shared install of opencode's plugin package. linkSharedPlugin writes on a session's behalf into
// a tree the session's agent can write: only into an `opencode` directory it creates itself, never
// through a link the agent planted. An install the operator prepared is used as it is, never written.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readlink, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { linkSharedPlugin, SharedPlugin } from '../../src/manager/isolation/shared-plugin.js';
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

describe('SharedPlugin with an install the operator prepared (OCPM_OPENCODE_PLUGIN_DIR)', () => {
  let temp: { dir: string; remove: () => Promise<void> };
  const prepared = (): string => path.join(temp.dir, 'image-plugin');
  const deps = (runs: string[], warnings: string[]) => ({
    env: {},
    run: (options: { args: readonly string[] }) => {
      runs.push(options.args.join(' '));
      return Promise.reject(new Error('no install expected'));
    },
    logger: { info: () => undefined, warn: (message: string) => warnings.push(message) },
  });
  before(async () => {
    temp = await makeTempDir('prepared-plugin');
    const manifest = path.join(prepared(), 'node_modules', '@opencode-ai', 'plugin');
    await mkdir(manifest, { recursive: true });
    await writeFile(path.join(manifest, 'package.json'), JSON.stringify({ name: '@opencode-ai/plugin', version: '1.2.3' }));
  });
  after(async () => {
    await temp.remove();
  });

  it("is used as it is when it holds opencode's version: ready at once, nothing installed", async () => {
    const plugin = new SharedPlugin(path.join(temp.dir, 'data'), '1.2.3', prepared());
    assert.equal(plugin.ready, true);
    assert.equal(plugin.dir, prepared());
    const runs: string[] = [];
    await plugin.prepare(deps(runs, []));
    assert.deepEqual(runs, []);
  });

  it('is not used, and not written to, when it holds another version: a warning, no install', async () => {
    const plugin = new SharedPlugin(path.join(temp.dir, 'data'), '9.9.9', prepared());
    const runs: string[] = [];
    const warnings: string[] = [];
    await plugin.prepare(deps(runs, warnings));
    assert.equal(plugin.ready, false);
    assert.deepEqual(runs, []);
    assert.match(warnings.join('\n'), /OCPM_OPENCODE_PLUGIN_DIR/);
    assert.equal(existsSync(path.join(temp.dir, 'data')), false, 'nothing was installed under the data dir either');
  });
});
