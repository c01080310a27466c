// The environment that runs the real opencode offline against the stub model: a private HOME and
// XDG tree, and the stub's provider config (test/fixtures/stub-llm).
import { mkdir } from 'node:fs/promises';
import { stubOpencodeConfig } from '../fixtures/stub-llm/opencode-config.mjs';
import type { StubLlm } from '../fixtures/stub-llm/server.mjs';
import type { TestService } from './test-service.js';

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

/**
 * The service's environment for the real-binary suites: the private home above, isolation required,
 * the real binary from the `opencode-ai` dependency, and a grace long enough for opencode's cleanup.
 */
export async function realOpencodeServiceEnv(stub: StubLlm, home: string, permission?: Record<string, unknown>): Promise<Record<string, string>> {
  return {
    ...(await realOpencodeHome(stub, home, permission)),
    OCPM_ISOLATION: 'required',
    OCPM_OPENCODE_BIN: '',
    OCPM_KILL_GRACE_MS: '2000',
  };
}

/** An assertion message for a failed call: the response and the service's last warnings (opencode's reasons). */
export function explain(svc: TestService, response: { status: number; body: unknown }): string {
  const warnings = svc.logs.filter((line) => line.level === 'error' || line.level === 'warn').slice(-5);
  return `${response.status} ${JSON.stringify(response.body)}; last warnings: ${JSON.stringify(warnings)}`;
}
