// The settings of the model gateway, through which opencode reaches its model providers. Rows of the
// settings table (src/config/settings.ts).
import { z } from 'zod';
import { boolean, integer, ms, setting } from './setting.js';

const upstreamTemplate: z.ZodType<string, string> = z
  .string()
  .trim()
  .regex(/^https?:\/\/[^\s]+$/, 'an http(s) URL');

export const GATEWAY_SETTINGS = {
  OCPM_MODEL_GATEWAY: setting(
    'gateway',
    'modelGateway',
    boolean,
    true,
    'true or false',
    "opencode reaches its model providers through the service's gateway on loopback, with a virtual key per session; provider keys, upstream URLs and the opencode config never enter a session's process. `false` hands opencode the keys (not for untrusted users).",
  ),
  OCPM_MODEL_GATEWAY_PORT: setting(
    'gateway',
    'modelGatewayPort',
    integer(0, 65535),
    0,
    'a port number (0: any free port)',
    "The gateway's port on 127.0.0.1 (0: a free one). It is the one port besides 80 and 443 an agent's commands may connect to; a virtual key is still needed.",
  ),
  OCPM_MODEL_GATEWAY_UPSTREAM: setting(
    'gateway',
    'modelGatewayUpstream',
    upstreamTemplate.optional(),
    undefined,
    'an http(s) URL, `{provider}` replaced by the provider id',
    "Send model calls on to an existing gateway (LiteLLM, Envoy AI Gateway, Portkey, Cloudflare AI Gateway) instead of the providers: `<URL>` + the call's path below the provider, e.g. `https://gateway.ai.cloudflare.com/v1/ACCOUNT/GATEWAY/{provider}`; the session id goes in `OCPM_MODEL_GATEWAY_SESSION_HEADER`.",
  ),
  OCPM_MODEL_GATEWAY_SESSION_HEADER: setting(
    'gateway',
    'modelGatewaySessionHeader',
    z
      .string()
      .regex(/^[A-Za-z0-9-]+$/)
      .transform((value) => value.toLowerCase()),
    'x-ocpm-session',
    'an HTTP header name',
    'The header that carries the session id to `OCPM_MODEL_GATEWAY_UPSTREAM`.',
  ),
  OCPM_MODEL_GATEWAY_TIMEOUT_MS: setting(
    'gateway',
    'modelGatewayTimeoutMs',
    integer(1000),
    600000,
    ms(1000),
    'Longest a model call may take upstream (connection to the end of its answer).',
  ),
  OCPM_SESSION_MODEL_RPM: setting(
    'budgets',
    'sessionModelRpm',
    integer(0),
    0,
    'a non-negative integer (0: no limit)',
    'Model calls one session may make per minute through the gateway; past it a call gets the provider-style 429 with `retry-after`, which opencode waits out and retries.',
  ),
} as const;
