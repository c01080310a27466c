// What the catalog opencode lists depends on, as the boot cache's key: the binary and its version,
// the children's environment (OPENCODE_CONFIG_CONTENT, key variables) and the files opencode reads
// its global config, agents and commands from. Any change there is a new key, and the catalog is read
// from opencode again.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { digest, fileIdentity, stableEnv } from '../boot-cache.js';
import type { OpencodeBinary } from '../opencode-binary.js';

/** Files listed per directory at most (a config dir is a handful; this bounds a pathological one). */
const MAX_FILES = 2000;
const MAX_DEPTH = 4;
/** What opencode writes into its config dir itself at each start (its plugin install), not config. */
const WRITTEN_BY_OPENCODE = new Set(['.gitignore', 'package.json', 'package-lock.json', 'bun.lock', 'bun.lockb', 'node_modules']);

export function catalogKey(binary: OpencodeBinary, env: Readonly<Record<string, string>>): string {
  return digest(binary.version, binary.path, fileIdentity(binary.path), stableEnv(env), configFiles(env));
}

/** opencode's global config dir, `~/.opencode`, OPENCODE_CONFIG_DIR and OPENCODE_CONFIG: each file with its identity. */
export function configFiles(env: Readonly<Record<string, string>>): Array<[string, string | undefined]> {
  const home = env.HOME ?? '';
  const configHome = env.XDG_CONFIG_HOME ?? (home === '' ? '' : path.join(home, '.config'));
  const dirs = [
    configHome === '' ? undefined : path.join(configHome, 'opencode'),
    home === '' ? undefined : path.join(home, '.opencode'),
    env.OPENCODE_CONFIG_DIR,
  ];
  const files: Array<[string, string | undefined]> = [];
  for (const dir of dirs) if (dir !== undefined && dir !== '') walk(dir, 0, files);
  if (env.OPENCODE_CONFIG !== undefined) files.push([env.OPENCODE_CONFIG, fileIdentity(env.OPENCODE_CONFIG)]);
  return files;
}

function walk(dir: string, depth: number, files: Array<[string, string | undefined]>): void {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
  } catch {
    return;
  }
  for (const entry of entries) {
    if (files.length >= MAX_FILES) return;
    const full = path.join(dir, entry.name);
    if (WRITTEN_BY_OPENCODE.has(entry.name)) continue;
    if (entry.isDirectory()) {
      if (depth < MAX_DEPTH) walk(full, depth + 1, files);
    } else files.push([full, fileIdentity(full)]);
  }
}
