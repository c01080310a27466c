// The bus events of `opencode serve` (its /global/event stream): `{ type, properties }`, typed by the
// SDK's `Event` union (`@opencode-ai/sdk/v2`). Nothing checks that a server sends those shapes, so
// readers take the SDK's keys with values still to be checked (`Unchecked`, `propertiesOf`).
import type { Event as OpencodeBusEvent, EventSessionCreated, EventSessionStatus, EventSessionUpdated, Session, SessionStatus } from '@opencode-ai/sdk/v2';
import { isRecord } from '../util/guards.js';
import type { Unchecked } from './unchecked.js';

/** An opencode bus event: `{ type, properties }`, as checked at run time. */
export interface BusEvent {
  readonly type: string;
  readonly properties: Record<string, unknown>;
}

/** The properties of an event of the SDK's type `type`, keyed as the SDK types them; else undefined. */
export function propertiesOf<E extends OpencodeBusEvent>(event: BusEvent, type: E['type']): Unchecked<E['properties']> | undefined {
  return event.type === type ? event.properties : undefined;
}

/** /global/event wraps each bus event with its directory; /event does not. Accept both. */
export function unwrapBusEvent(value: unknown): BusEvent | undefined {
  if (!isRecord(value)) return undefined;
  const inner = isRecord(value.payload) ? value.payload : value;
  if (typeof inner.type !== 'string') return undefined;
  return { type: inner.type, properties: isRecord(inner.properties) ? inner.properties : {} };
}

/** One server-sent event's data as a bus event; undefined when it is not JSON or not an event. */
export function parseBusEvent(data: string): BusEvent | undefined {
  try {
    return unwrapBusEvent(JSON.parse(data));
  } catch {
    return undefined;
  }
}

/** The opencode session an event belongs to, wherever this event type keeps it. */
export function sessionIdOf(event: BusEvent): string | undefined {
  const p = event.properties;
  if (typeof p.sessionID === 'string') return p.sessionID;
  for (const key of ['part', 'info', 'message']) {
    const nested = p[key];
    if (isRecord(nested) && typeof nested.sessionID === 'string') return nested.sessionID;
  }
  if (event.type.startsWith('session.') && isRecord(p.info) && typeof p.info.id === 'string') return p.info.id;
  return undefined;
}

/** The session status an event announces: 'busy', 'idle' (also `session.idle`), 'retry', or undefined. */
export function statusOf(event: BusEvent): string | undefined {
  if (event.type === 'session.idle') return 'idle';
  const properties = propertiesOf<EventSessionStatus>(event, 'session.status');
  const status: Unchecked<SessionStatus> | undefined = isRecord(properties?.status) ? properties.status : undefined;
  return typeof status?.type === 'string' ? status.type : undefined;
}

/** The parent a created or updated session names (a subagent's session is a child of its caller's). */
export function parentLinkOf(event: BusEvent): { readonly id: string; readonly parentID: string } | undefined {
  const properties = propertiesOf<EventSessionCreated>(event, 'session.created') ?? propertiesOf<EventSessionUpdated>(event, 'session.updated');
  const info: Unchecked<Session> | undefined = isRecord(properties?.info) ? properties.info : undefined;
  if (info === undefined || typeof info.id !== 'string' || typeof info.parentID !== 'string' || info.parentID === info.id) return undefined;
  return { id: info.id, parentID: info.parentID };
}
