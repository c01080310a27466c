// opencode's plugin package, installed once for every scenario of a run, as the image installs it at
// build time (OCPM_OPENCODE_PLUGIN_DIR): the isolated scenarios measure sessions that install
// nothing, as in production, not the first-boot install racing the first sessions.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../test/helpers/fixtures.js';
import { out } from './compare-args.js';

const PACKAGE = '@opencode-ai/plugin';

function versionIn(dir: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(path.join(dir, 'node_modules', PACKAGE, 'package.json'), 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** The prepared install's directory, or undefined (logged) when npm could not install it: sessions then install their own. */
export function preparedPluginDir(): string | undefined {
  const version = (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'node_modules', 'opencode-ai', 'package.json'), 'utf8')) as { version: string }).version;
  const dir = path.join(os.tmpdir(), `ocpm-bench-opencode-plugin-${version}`);
  if (versionIn(dir) === version) return dir;
  const staging = `${dir}.staging-${process.pid}`;
  try {
    out(`installing ${PACKAGE}@${version} once for every scenario (${dir})…`);
    execFileSync('npm', ['install', '--prefix', staging, '--save-exact', '--no-audit', '--no-fund', '--ignore-scripts', `${PACKAGE}@${version}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 300_000,
    });
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
    return existsSync(dir) ? dir : undefined;
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    out(`could not install ${PACKAGE}: each isolated session's opencode installs it itself (${String(error).slice(0, 200)})`);
    return undefined;
  }
}
