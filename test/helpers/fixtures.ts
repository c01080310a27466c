// Paths of the test fixtures and temp-dir handling shared by tests.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FAKE_OPENCODE = path.join(PROJECT_ROOT, 'test', 'fixtures', 'fake-opencode', 'opencode');
/**
 * What the fake opencode needs to read inside a session's sandbox: it is a Node script in this checkout,
 * and Node 24 must read the checkout's package.json (an unreadable one is an error to it). Pass it as
 * OCPM_SANDBOX_READ_PATHS to a service that isolates sessions.
 */
export const FAKE_OPENCODE_READ_PATHS = path.join(PROJECT_ROOT, 'package.json');

export async function makeTempDir(prefix: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `ocpm-test-${prefix}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
