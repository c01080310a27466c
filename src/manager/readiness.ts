// Whether the service can answer a message at all, beyond its lifecycle state: opencode's
// configuration could not be read (the operator's config is not valid JSON), or opencode has no model
// provider. Both are settled at boot and change only with a restart, so /readyz, the status and every
// new message read the same answer without asking opencode again.
import type { ErrorCode } from '../errors/codes.js';
import type { ModelGateway } from '../gateway/model-gateway.js';
import { NO_PROVIDER_HINT, type OpencodeCatalog } from './catalog/catalog.js';
import type { Lifecycle } from './lifecycle.js';

/** What the answer is read from: the lifecycle's state, the gateway's config error, the catalog's providers. */
export interface ReadinessDeps {
  readonly lifecycle: Pick<Lifecycle, 'rejection'>;
  readonly gateway: Pick<ModelGateway, 'configError'> | undefined;
  /** Undefined until boot read it (and when it could not). */
  readonly catalog: Pick<OpencodeCatalog, 'configured'> | undefined;
}

export interface NotReady {
  readonly code: ErrorCode;
  readonly message: string;
}

export function configurationProblem(deps: Pick<ReadinessDeps, 'gateway' | 'catalog'>): NotReady | undefined {
  const configError = deps.gateway?.configError;
  if (configError !== undefined) {
    return { code: 'invalid_opencode_config', message: `${configError}; fix it and restart the service (docs/configuration.md, "Model providers")` };
  }
  if (deps.catalog?.configured === false) {
    return { code: 'no_provider', message: `opencode has no model provider configured: ${NO_PROVIDER_HINT}` };
  }
  return undefined;
}

/** The lifecycle's rejection first (starting, draining…), then the configuration's. */
export function readinessOf(deps: ReadinessDeps): NotReady | undefined {
  return deps.lifecycle.rejection() ?? configurationProblem(deps);
}
