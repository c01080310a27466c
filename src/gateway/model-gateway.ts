// The model gateway: loopback HTTP listeners of the service that every opencode child reaches
// instead of its model providers. Children get a configuration whose providers point at it under a
// virtual key of their session; the real keys, upstream URLs and the operator's opencode config stay
// in the service. Each session has a listener (port) of its own, which takes only its own key: with
// the sandbox's TCP layer a session's commands reach only that port, so even a key of another session
// is refused there. Shared pool servers call the main listener with their server's key. Each call is
// admitted against its session's budgets, counted from the provider's own usage fields, and priced
// from opencode's catalog.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../logging/logger.js';
import type { Budgets, SessionUsage, UsageTokens } from '../usage/usage.js';
import { isRecord } from '../util/guards.js';
import { GatewayProxy, type ForwardTo } from './gateway-proxy.js';
import type { GatewayRecorder } from './gateway-recorder.js';
import { ModelLedger, type ModelTerms, type TurnCalls } from './model-ledger.js';
import { OperatorConfigError, readOperatorConfig, referencedVariables, type JsonObject } from './operator-config.js';
import { gatewayConfig, resolveProviders, type RefusedProvider, type ResolvedProviders } from './upstream-providers.js';
import { WarmUpCalls } from './warm-up-calls.js';
import { VirtualKeys } from './virtual-keys.js';

export interface GatewaySettings {
  /** OCPM_MODEL_GATEWAY. */
  readonly modelGateway: boolean;
  /** OCPM_MODEL_GATEWAY_PORT (0: any free port); always on 127.0.0.1. */
  readonly modelGatewayPort: number;
  readonly modelGatewayUpstream: string | undefined;
  readonly modelGatewaySessionHeader: string;
  readonly modelGatewayTimeoutMs: number;
}

/** What the gateway asks of the rest of the service, once it runs. */
export interface GatewayHost {
  readonly usageOf: (sessionId: string) => SessionUsage | undefined;
  readonly addUsage: (sessionId: string, tokens: UsageTokens, cost: number) => void;
  readonly sessionOfConversation: (opencodeSessionId: string, slot: number) => string | undefined;
  readonly budgets: () => Budgets;
  readonly rpm: number;
  readonly termsOf: (provider: string, model: string | undefined) => ModelTerms;
  readonly modelLabel: (provider: string, model: string | undefined) => string;
  readonly recorder: GatewayRecorder;
  readonly logger: Logger;
}

/** The key no session holds: the configuration of processes that never call a model (catalog, export). */
const NO_SESSION_KEY = 'ocpm-no-session';

export interface GatewayStatus {
  readonly enabled: boolean;
  readonly providers: string[];
  readonly refused: RefusedProvider[];
  readonly configError: string | null;
  readonly keys: number;
  readonly forwardsTo: 'providers' | 'upstream-gateway';
}

/** Where a session's opencode reaches the gateway, and the configuration that says so. */
export interface SessionAccess {
  readonly env: Record<string, string>;
  /** The session's own listener port (the one port its sandbox opens for the gateway). */
  readonly port: number | undefined;
}

function listen(server: http.Server, port: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function close(server: http.Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export class ModelGateway {
  private readonly keys = new VirtualKeys();
  /** Warm-up prompts' conversations: their calls are answered here (warm-up-calls.ts). */
  readonly warmUpCalls = new WarmUpCalls();
  private server: http.Server | undefined;
  private proxy: GatewayProxy | undefined;
  private ledger: ModelLedger | undefined;
  private url = '';
  /** Each session's own listener, opened with its first opencode process on this replica. */
  private readonly sessionListeners = new Map<string, Promise<{ server: http.Server; port: number }>>();

  private constructor(
    private readonly settings: GatewaySettings,
    private readonly config: JsonObject,
    private readonly resolved: ResolvedProviders,
    /** Why the operator's opencode config was not used (source and position, never its text). */
    readonly configError: string | undefined,
  ) {}

  /**
   * Reads the operator's providers; undefined when OCPM_MODEL_GATEWAY is off (children then get
   * the keys as before). A config that cannot be parsed is not passed on at all.
   */
  static prepare(env: NodeJS.ProcessEnv, settings: GatewaySettings): ModelGateway | undefined {
    if (!settings.modelGateway) return undefined;
    let config: JsonObject = {};
    let configError: string | undefined;
    try {
      config = readOperatorConfig(env);
    } catch (error) {
      if (!(error instanceof OperatorConfigError)) throw error;
      configError = error.message;
    }
    let resolved: ResolvedProviders;
    try {
      resolved = resolveProviders(env, config);
    } catch (error) {
      if (!(error instanceof OperatorConfigError)) throw error;
      configError ??= error.message;
      resolved = resolveProviders({ ...env, OPENCODE_AUTH_CONTENT: '' }, config);
    }
    return new ModelGateway(settings, config, resolved, configError);
  }

  /** True when at least one provider goes through the gateway: its counts are then the usage. */
  get active(): boolean {
    return this.resolved.upstreams.size > 0;
  }

  /** The children's environment without any provider credential or operator config. */
  withoutCredentials(env: Readonly<Record<string, string>>): Record<string, string> {
    // Variables the providers' settings name ({env:…}) are theirs; other sections (MCP servers) keep theirs.
    const providers = isRecord(this.config.provider) ? this.config.provider : {};
    const drop = new Set([...this.resolved.credentialVariables, ...referencedVariables(providers)]);
    return Object.fromEntries(Object.entries(env).filter(([name]) => !drop.has(name)));
  }

  async start(host: GatewayHost): Promise<void> {
    const { logger } = host;
    if (this.configError !== undefined) {
      logger.error(`The opencode configuration was not passed on: ${this.configError}. Fix it and restart the service.`, { code: 'invalid_opencode_config' });
    }
    for (const { id, reason } of this.resolved.refused) {
      logger.error(`Model provider "${id}" is refused: ${reason}. Its credentials stay in the service and opencode does not see it.`, { provider: id });
    }
    this.ledger = new ModelLedger({ usageOf: host.usageOf, addUsage: host.addUsage, budgets: host.budgets, rpm: host.rpm });
    host.recorder.providersKnown([...this.resolved.upstreams.keys()]);
    const forward: ForwardTo | undefined =
      this.settings.modelGatewayUpstream === undefined
        ? undefined
        : { template: this.settings.modelGatewayUpstream, sessionHeader: this.settings.modelGatewaySessionHeader };
    const proxy = new GatewayProxy({
      keys: this.keys,
      ledger: this.ledger,
      upstreams: this.resolved.upstreams,
      sessionOfConversation: host.sessionOfConversation,
      sessionExists: (id) => host.usageOf(id) !== undefined,
      warmUpCalls: this.warmUpCalls,
      termsOf: host.termsOf,
      modelLabel: host.modelLabel,
      recorder: host.recorder,
      logger,
      forward,
      upstreamTimeoutMs: this.settings.modelGatewayTimeoutMs,
    });
    this.proxy = proxy;
    const server = http.createServer((req, res) => proxy.handle(req, res, undefined));
    server.keepAliveTimeout = 65_000;
    const port = await listen(server, this.settings.modelGatewayPort);
    this.server = server;
    this.url = `http://127.0.0.1:${String(port)}`;
    logger.info('Model gateway listening: opencode reaches its providers through the service, with per-session keys', {
      url: this.url,
      providers: [...this.resolved.upstreams.values()].map((p) => `${p.id} (key: ${p.keySource})`),
      forwardsTo: forward === undefined ? 'providers' : 'upstream gateway',
    });
  }

  /** The configuration of children that never call a model (catalog listing, export, import). */
  baseEnv(): Record<string, string> {
    return this.configEnv(NO_SESSION_KEY);
  }

  /** A session's own opencode (per-message run, isolated server): its key, on its own listener. */
  async sessionAccess(sessionId: string): Promise<SessionAccess> {
    const { proxy } = this;
    if (this.server === undefined || proxy === undefined) return { env: {}, port: undefined };
    // Nothing to proxy: the session needs no key and no listener of its own.
    if (!this.active) return { env: this.baseEnv(), port: undefined };
    let listener = this.sessionListeners.get(sessionId);
    if (listener === undefined) {
      const server = http.createServer((req, res) => proxy.handle(req, res, sessionId));
      server.keepAliveTimeout = 65_000;
      listener = listen(server, 0).then((port) => ({ server, port }));
      this.sessionListeners.set(sessionId, listener);
      listener.catch(() => this.sessionListeners.delete(sessionId));
    }
    const { port } = await listener;
    return { env: this.configEnv(this.keys.forSession(sessionId), `http://127.0.0.1:${String(port)}`), port };
  }

  /** A shared server: its calls name their session by opencode's conversation id. */
  envForSlot(slot: number): Record<string, string> {
    return this.configEnv(this.keys.forSlot(slot), this.url);
  }

  private configEnv(key: string, url = this.url): Record<string, string> {
    if (this.server === undefined) return {};
    return { OPENCODE_CONFIG_CONTENT: JSON.stringify(gatewayConfig(this.config, this.resolved, url, key)) };
  }

  beginTurn(sessionId: string): void {
    this.ledger?.beginTurn(sessionId);
  }

  endTurn(sessionId: string): TurnCalls | undefined {
    return this.ledger?.endTurn(sessionId);
  }

  /** The session's key and listener stop working and what it had in flight is forgotten (deleted, handed over). */
  revoke(sessionId: string): void {
    this.keys.revokeSession(sessionId);
    this.ledger?.forget(sessionId);
    const listener = this.sessionListeners.get(sessionId);
    this.sessionListeners.delete(sessionId);
    listener?.then(({ server }) => close(server)).catch(() => undefined);
  }

  status(): GatewayStatus {
    return {
      enabled: this.server !== undefined,
      providers: [...this.resolved.upstreams.keys()],
      refused: [...this.resolved.refused],
      configError: this.configError ?? null,
      keys: this.keys.size,
      forwardsTo: this.settings.modelGatewayUpstream === undefined ? 'providers' : 'upstream-gateway',
    };
  }

  async stop(): Promise<void> {
    this.keys.revokeAll();
    const listeners = [...this.sessionListeners.values()];
    this.sessionListeners.clear();
    await Promise.allSettled(listeners.map(async (listener) => close((await listener).server)));
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    await close(server);
  }
}
