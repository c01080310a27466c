// Whether the service can answer a message at all, beyond its lifecycle state: opencode's
// configuration could not be read (the operator's config is not valid JSON), or opencode has no model
// provider. Both are settled at boot and change only with a restart, so /readyz, the status and every
// new message read the same answer without asking opencode again.
import type { ErrorCode } from '../errors/codes.js';
import { NO_PROVIDER_HINT } from './catalog/catalog.js';
import type { ManagerCore } from './manager-core.js';

export interface NotReady {
  readonly code: ErrorCode;
  readonly message: string;
}

export function configurationProblem(core: Pick<ManagerCore, 'gateway' | 'catalog'>): NotReady | undefined {
  const configError = core.gateway?.configError;
  if (configError !== undefined) {
    return { code: 'invalid_opencode_config', message: `${configError}; fix it and restart the service (docs/configuration.md, "Model providers")` };
  }
  if (core.catalog?.configured === false) {
    return { code: 'no_provider', message: `opencode has no model provider configured: ${NO_PROVIDER_HINT}` };
  }
  return undefined;
}

/** The lifecycle's rejection first (starting, draining…), then the configuration's. */
export function readinessOf(core: ManagerCore): NotReady | undefined {
  return core.lifecycle.rejection() ?? configurationProblem(core);
}
