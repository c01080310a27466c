// Paths of the test fixtures and temp-dir handling shared by tests.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FAKE_OPENCODE = path.join(PROJECT_ROOT, 'test', 'fixtures', 'fake-opencode', 'opencode');

export async function makeTempDir(prefix: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `ocpm-test-${prefix}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
