// The two clients of bench/compare.ts: the service's API, and a bare `opencode serve` called directly.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { callOk } from '../test/helpers/http.js';
import { sample, sumBy } from '../test/helpers/metrics-text.js';
import { REQUEST_TIMEOUT_MS, type ServiceMode } from './compare-args.js';

/** A 2xx answer's body; every call is bounded. No header: the service runs with OCPM_AUTH=disabled. */
export function http<T>(url: string, method: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  return callOk<T>(url, method, body, { authorization: '', ...headers }, AbortSignal.timeout(REQUEST_TIMEOUT_MS));
}

/** One API per contestant. */
export interface Client {
  /** Registers the session (the service's PUT, the bare serve's session creation); resolves once answered. */
  open: (id: string) => Promise<void>;
  /**
   * ms from `since` (the send of open()) until the session is warm; null when this mode has no
   * warm-up, or `stop` came first. Runs beside the first message, never in its way.
   */
  warm: (id: string, since: number, stop: AbortSignal) => Promise<number | null>;
  send: (id: string, text: string) => Promise<string>;
}

/** How often the warm-up poll asks: coarse enough to cost nothing beside N turns. */
const WARM_POLL_MS = 50;

export function serviceClient(base: string, mode: ServiceMode): Client {
  return {
    async open(id) {
      await http(`${base}/api/sessions/${id}`, 'PUT', { workspace: id });
    },
    // Server mode opens the opencode session at PUT: warm once GET shows its opencodeSessionId.
    async warm(id, since, stop) {
      if (mode === 'per-message') return null;
      while (!stop.aborted && Date.now() - since < REQUEST_TIMEOUT_MS) {
        const s = await http<{ opencodeSessionId: string | null }>(`${base}/api/sessions/${id}`, 'GET');
        if (s.opencodeSessionId !== null) return Date.now() - since;
        await sleep(WARM_POLL_MS, undefined, { signal: stop }).catch(() => undefined);
      }
      return null;
    },
    send: async (id, text) => (await http<{ text: string }>(`${base}/api/sessions/${id}/messages`, 'POST', { text })).text,
  };
}

export function directClient(base: string, password: string, wsRoot: string): Client {
  const auth = { authorization: `Basic ${Buffer.from(`opencode:${password}`).toString('base64')}` };
  const sessions = new Map<string, { sid: string; dir: string; createdMs: number }>();
  return {
    async open(id) {
      const dir = path.join(wsRoot, id);
      mkdirSync(dir, { recursive: true });
      const started = Date.now();
      // A title spares opencode the extra title-generation call, as the service does.
      const s = await http<{ id: string }>(`${base}/session?directory=${encodeURIComponent(dir)}`, 'POST', { title: id }, auth);
      sessions.set(id, { sid: s.id, dir, createdMs: Date.now() - started });
    },
    // The bare serve is warm once its session exists: the creation's own time.
    warm: (id) => Promise.resolve(sessions.get(id)?.createdMs ?? null),
    async send(id, text) {
      const { sid, dir } = sessions.get(id)!;
      type Reply = { info: { error?: unknown }; parts: { type: string; text?: string }[] };
      const r = await http<Reply>(`${base}/session/${sid}/message?directory=${encodeURIComponent(dir)}`, 'POST', { parts: [{ type: 'text', text }] }, auth);
      // A failed or aborted turn is still a 200: the error is in info.
      if (r.info.error !== undefined) throw new Error(`turn failed: ${JSON.stringify(r.info.error).slice(0, 300)}`);
      return r.parts
        .filter((p) => p.type === 'text')
        .map((p) => p.text ?? '')
        .join('');
    },
  };
}

/** From the service's /metrics: processes spawned (outcome="started") and healthy server starts. */
export async function serviceCounts(base: string): Promise<{ spawns: number; serverStarts: number }> {
  const metrics = await http<string>(`${base}/metrics`, 'GET');
  return {
    spawns: sumBy(metrics, 'opencode_manager_process_spawns_total', 'outcome').started ?? 0,
    serverStarts: sample(metrics, 'opencode_manager_server_start_duration_seconds_count'),
  };
}
