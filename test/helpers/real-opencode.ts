// The environment that runs the real opencode offline against the stub model: a private HOME and
// XDG tree, and the stub's provider config (test/fixtures/stub-llm).
import { mkdir } from 'node:fs/promises';
import { stubOpencodeConfig } from '../fixtures/stub-llm/opencode-config.mjs';
import type { StubLlm } from '../fixtures/stub-llm/server.mjs';

/** `permission` replaces the stub config's headless policy (for tests of permission requests). */
export async function realOpencodeHome(stub: StubLlm, home: string, permission?: Record<string, unknown>): Promise<Record<string, string>> {
  await mkdir(home, { recursive: true });
  return {
    HOME: home,
    XDG_CONFIG_HOME: `${home}/.config`,
    XDG_CACHE_HOME: `${home}/.cache`,
    XDG_STATE_HOME: `${home}/.local/state`,
    OPENCODE_CONFIG_CONTENT: JSON.stringify(stubOpencodeConfig(stub.baseURL, permission === undefined ? {} : { permission })),
  };
}
