// What boot learned from opencode (its version, whether it has `serve`, its catalog), kept in the data
// dir so a restart does not run opencode again to learn it. Each entry is stored under a key made of
// everything it depends on; a different key is a miss, and the entry is learned again and replaced.
// A missing, unreadable or corrupt file is an empty cache: the cache only ever saves time.
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const BOOT_CACHE_FILE = 'boot-cache.json';

interface Entry {
  readonly key: string;
  readonly value: unknown;
}

export class BootCache {
  private readonly file: string;
  private entries: Record<string, Entry>;

  constructor(dataDir: string) {
    this.file = path.join(dataDir, BOOT_CACHE_FILE);
    this.entries = this.load();
  }

  private load(): Record<string, Entry> {
    try {
      const parsed = JSON.parse(readFileSync(this.file, 'utf8')) as unknown;
      return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, Entry>) : {};
    } catch {
      return {};
    }
  }

  /** The value stored under `name` when it was stored with this key. */
  get<T>(name: string, key: string): T | undefined {
    const entry = this.entries[name];
    return entry !== undefined && entry.key === key ? (entry.value as T) : undefined;
  }

  /** Stores and writes the file (atomically: a crash leaves the old file or the new one). */
  set(name: string, key: string, value: unknown): void {
    this.entries = { ...this.entries, [name]: { key, value } };
    const temp = `${this.file}.${process.pid}.tmp`;
    try {
      writeFileSync(temp, `${JSON.stringify(this.entries)}\n`, { mode: 0o600 });
      renameSync(temp, this.file);
    } catch {
      // A read-only or full data dir: the next boot learns it again.
    }
  }
}

/** A digest of the parts, in order: the keys of the cache (never the values that went into it). */
export function digest(...parts: readonly unknown[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(`${JSON.stringify(part) ?? 'undefined'}\0`);
  return hash.digest('hex');
}

/** Size, modification time and inode of a file: it changed when any of them did (undefined: missing). */
export function fileIdentity(file: string): string | undefined {
  try {
    const stat = statSync(file);
    return `${stat.size}:${stat.mtimeMs}:${stat.ino}`;
  } catch {
    return undefined;
  }
}

/**
 * The environment as a cache key part: loopback ports replaced (the gateway listens on a new port at
 * each boot; what opencode answers does not depend on it).
 */
export function stableEnv(env: Readonly<Record<string, string>>): Array<[string, string]> {
  return Object.entries(env)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => [name, value.replace(/(127\.0\.0\.1|localhost|\[::1\]):\d+/g, '$1:PORT')]);
}
