// One model call through the gateway: the caller's virtual key names its session, the call reserves
// its worst case against that session's budgets, then goes upstream with the real key and is settled
// to the usage the provider reports (upstream-relay.ts). Unknown keys get 401 and nothing goes
// upstream; a call its session's budgets or call rate do not admit is refused before it does.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { errorMessage, isRecord } from '../util/guards.js';
import { sendError, sendRefusal } from './gateway-answers.js';
import type { ModelTerms, Reservation } from './model-ledger.js';
import type { UpstreamProvider } from './upstream-providers.js';
import { relayUpstream, type RelayDeps } from './upstream-relay.js';
import type { WarmUpCalls } from './warm-up-calls.js';
import type { VirtualKeys } from './virtual-keys.js';
import { keyOf, maxOutputOf, withStreamUsage, type Wire } from './wire-formats.js';

export type { ForwardTo } from './upstream-relay.js';

/** Largest request body taken (opencode's requests with a long history reach a few MB). */
export const MAX_REQUEST_BYTES = 32 * 1024 * 1024;

export interface ProxyDeps extends RelayDeps {
  readonly keys: VirtualKeys;
  readonly upstreams: ReadonlyMap<string, UpstreamProvider>;
  /** The session of the server's slot a shared server's call is for, from opencode's `x-session-id` (its conversation id). */
  readonly sessionOfConversation: (opencodeSessionId: string, slot: number) => string | undefined;
  readonly sessionExists: (sessionId: string) => boolean;
  /** Conversations whose calls are warm-up calls: answered here, never sent upstream. */
  readonly warmUpCalls: WarmUpCalls;
  readonly termsOf: (provider: string, model: string | undefined) => ModelTerms;
  /** The metric label of `provider/model`: a configured model, else `other`. */
  readonly modelLabel: (provider: string, model: string | undefined) => string;
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_REQUEST_BYTES) {
        resolve(undefined);
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The JSON object a POST carries, or undefined when it is not one. */
function jsonObjectOf(raw: Buffer): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(raw.toString('utf8'));
    return isRecord(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** `/anthropic/v1/messages` -> the Messages API; everything else is OpenAI's shape. */
function wireOf(path: string): Wire {
  return /\/messages(\/|$)/.test(path) && !/\/chat\/completions/.test(path) ? 'anthropic' : 'openai';
}

export class GatewayProxy {
  constructor(private readonly deps: ProxyDeps) {}

  /** `boundTo`: the session whose own listener took the call (only its key is valid there); undefined: the main listener. */
  handle(req: IncomingMessage, res: ServerResponse, boundTo: string | undefined): void {
    this.serve(req, res, boundTo).catch((error: unknown) => {
      this.deps.logger.warn('Model gateway call failed', { error: errorMessage(error) });
      sendError(res, 'openai', 502, 'gateway_error', 'the model gateway could not complete the call');
    });
  }

  private async serve(req: IncomingMessage, res: ServerResponse, boundTo: string | undefined): Promise<void> {
    const { deps } = this;
    const url = new URL(req.url ?? '/', 'http://gateway');
    const [, encodedProvider = '', ...rest] = url.pathname.split('/');
    const provider = decodeURIComponent(encodedProvider);
    const subPath = `/${rest.join('/')}`;
    const wire = wireOf(subPath);
    const upstream = deps.upstreams.get(provider);
    if (upstream === undefined) {
      sendError(res, wire, 404, 'not_found', `the model gateway has no provider "${provider}"`);
      return;
    }
    // A warm-up prompt's call, with a key the gateway gave: its work in opencode is done by now.
    if (deps.warmUpCalls.has(req.headers['x-session-id']) && deps.keys.holderOf(keyOf(req.headers)) !== undefined) {
      req.resume();
      deps.recorder.called(provider, 'other', 'warm_up');
      sendError(res, wire, 402, 'warm_up', 'a warm-up call: answered by the service, never sent to a provider');
      return;
    }
    const sessionId = this.sessionOf(req.headers, boundTo);
    if (sessionId === undefined) {
      deps.recorder.called(provider, 'other', 'unauthorized');
      sendError(res, wire, 401, 'authentication_error', 'unknown or revoked key');
      return;
    }
    const raw = await readBody(req);
    if (raw === undefined) {
      sendError(res, wire, 413, 'invalid_request_error', `the request body is larger than ${MAX_REQUEST_BYTES} bytes`);
      return;
    }
    let body: Record<string, unknown> | undefined;
    let payload = raw;
    if (req.method === 'POST' && raw.length > 0) {
      body = jsonObjectOf(raw);
      if (body === undefined) {
        sendError(res, wire, 400, 'invalid_request_error', 'the request body is not a JSON object');
        return;
      }
      if (withStreamUsage(wire, subPath, body)) payload = Buffer.from(JSON.stringify(body));
    }
    const model = typeof body?.model === 'string' ? body.model : undefined;
    const label = deps.modelLabel(provider, model);
    let reservation: Reservation | undefined;
    if (body !== undefined) {
      const admission = deps.ledger.admit(sessionId, deps.termsOf(provider, model), maxOutputOf(body));
      if (!admission.ok) {
        deps.recorder.refused(admission.reason);
        deps.recorder.called(provider, label, admission.reason === 'rate' ? 'refused_rate' : 'refused_budget');
        sendRefusal(res, wire, admission);
        return;
      }
      reservation = admission.reservation;
    }
    await relayUpstream(deps, { req, res, upstream, subPath, search: url.search, payload, wire, sessionId, label, reservation, provider });
  }

  /**
   * The session the key stands for: on a session's own listener only that session's key; on the main
   * listener only a shared server's key, for the session its conversation belongs to.
   */
  private sessionOf(headers: IncomingHttpHeaders, boundTo: string | undefined): string | undefined {
    const holder = this.deps.keys.holderOf(keyOf(headers));
    if (holder === undefined) return undefined;
    let sessionId: string | undefined;
    if (boundTo !== undefined) sessionId = holder.kind === 'session' && holder.sessionId === boundTo ? boundTo : undefined;
    else if (holder.kind === 'session') sessionId = undefined;
    else {
      const conversation = headers['x-session-id'];
      sessionId = typeof conversation === 'string' ? this.deps.sessionOfConversation(conversation, holder.slot) : undefined;
    }
    return sessionId !== undefined && this.deps.sessionExists(sessionId) ? sessionId : undefined;
  }
}
