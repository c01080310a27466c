// What the operator console's stream (GET /api/events) sends: one snapshot, then, each tick, only
// what changed since the last send on this connection. Changes are found by comparing JSON text, per
// session id and per turn id, so views carry whatever fields they have (new ones included) without
// this module knowing them. Payloads leave here as JSON text, serialized once.
import type { TurnRecord } from '../store/turn-store.js';

/** Where the feed reads the live state (the route binds them to the manager). */
export interface ConsoleSources {
  /** The status document of GET /api/opencode/status. */
  status(): object;
  sessions(): ReadonlyArray<{ readonly id: string }>;
  /** The latest turns across sessions, newest first. */
  recentTurns(): readonly TurnRecord[];
  /** Every session's pending permission requests and questions. */
  pending(): object;
}

export const CONSOLE_EVENTS = ['snapshot', 'status', 'sessions', 'turns', 'pending'] as const;
export type ConsoleEventName = (typeof CONSOLE_EVENTS)[number];

export interface ConsoleEvent {
  readonly event: ConsoleEventName;
  /** The event's data, already JSON. */
  readonly json: string;
}

/** A turn as the console shows it: without its answer text, which can be 200,000 characters. */
export type ConsoleTurn = Omit<TurnRecord, 'text'> & { readonly textChars: number };

export function consoleTurn(turn: TurnRecord): ConsoleTurn {
  const { text, ...rest } = turn;
  return { ...rest, textChars: text?.length ?? 0 };
}

/**
 * The status without the fields that change with the clock alone (idle time, peers' last probe), so
 * an idle service sends no status event each tick.
 */
function statusKey(status: object): string {
  return JSON.stringify(status, (key, value: unknown) => (key === 'idleTime' || key === 'lastSeenAt' ? undefined : value));
}

export class ConsoleFeed {
  private lastStatus = '';
  private lastPending = '';
  private sessions = new Map<string, string>();
  private turns = new Map<number, string>();

  constructor(private readonly sources: ConsoleSources) {}

  /** The first event of a connection: everything, and the baseline the changes are found against. */
  snapshot(): ConsoleEvent {
    const status = this.sources.status();
    this.lastStatus = statusKey(status);
    const pending = JSON.stringify(this.sources.pending());
    this.lastPending = pending;
    this.sessions = this.serializeSessions();
    this.turns = this.serializeTurns();
    const json = `{"status":${JSON.stringify(status)},"sessions":[${[...this.sessions.values()].join(',')}],"recentTurns":[${[...this.turns.values()].join(',')}],"pending":${pending}}`;
    return { event: 'snapshot', json };
  }

  /** What changed since the last snapshot or changes() call; empty when nothing did. */
  changes(): ConsoleEvent[] {
    const events: ConsoleEvent[] = [];
    const status = this.sources.status();
    const key = statusKey(status);
    if (key !== this.lastStatus) {
      this.lastStatus = key;
      events.push({ event: 'status', json: JSON.stringify(status) });
    }
    const sessions = this.serializeSessions();
    const upserted = [...sessions].filter(([id, json]) => this.sessions.get(id) !== json).map(([, json]) => json);
    const removed = [...this.sessions.keys()].filter((id) => !sessions.has(id));
    this.sessions = sessions;
    if (upserted.length > 0 || removed.length > 0) {
      events.push({ event: 'sessions', json: `{"upserted":[${upserted.join(',')}],"removed":${JSON.stringify(removed)}}` });
    }
    const turns = this.serializeTurns();
    const changedTurns = [...turns].filter(([id, json]) => this.turns.get(id) !== json).map(([, json]) => json);
    // Turns that fell out of the window are forgotten here; the console keeps its newest ones.
    this.turns = turns;
    if (changedTurns.length > 0) events.push({ event: 'turns', json: `{"upserted":[${changedTurns.join(',')}]}` });
    const pending = JSON.stringify(this.sources.pending());
    if (pending !== this.lastPending) {
      this.lastPending = pending;
      events.push({ event: 'pending', json: pending });
    }
    return events;
  }

  private serializeSessions(): Map<string, string> {
    return new Map(this.sources.sessions().map((session) => [session.id, JSON.stringify(session)]));
  }

  private serializeTurns(): Map<number, string> {
    return new Map(this.sources.recentTurns().map((turn) => [turn.id, JSON.stringify(consoleTurn(turn))]));
  }
}
