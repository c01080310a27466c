// What the status document says of one pool slot and its instance (the status endpoint is open:
// no paths).
import { redactPaths } from '../../util/redact.js';
import type { InstanceState } from './server-instance.js';
import type { Slot } from './slot.js';

export interface InstanceStatus {
  id: string;
  pid: number | null;
  port: number | null;
  state: InstanceState;
  startedAt: number | null;
  restarts: number;
  lastError: string | null;
  lastHealth: { ok: boolean; latencyMs: number; failureClass: string | null } | null;
  rssBytes: number;
  activeTurns: number;
  directories: number;
}

export function slotStatus(slot: Slot): InstanceStatus {
  const instance = slot.instance;
  const health = instance?.lastHealth;
  return {
    id: slot.id,
    pid: instance?.pid ?? null,
    port: instance?.port ?? null,
    state: slot.state,
    startedAt: instance?.startedAt ?? null,
    restarts: slot.restarts,
    // stderr tails can hold paths.
    lastError: slot.lastError === null ? null : redactPaths(slot.lastError).slice(0, 300),
    lastHealth: health === undefined ? null : { ok: health.ok, latencyMs: Math.round(health.latencyMs * 10) / 10, failureClass: health.failureClass },
    rssBytes: instance?.rssBytes ?? 0,
    activeTurns: instance?.activeTurns ?? 0,
    directories: instance?.directories.size ?? 0,
  };
}
