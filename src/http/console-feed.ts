// What the operator console's stream (GET /api/events) sends: one snapshot, then, each tick, only
// what changed since the last send on this connection. The state is read and serialized once per tick
// into a frame that every connection shares (console-hub.ts); changes are found by comparing JSON
// text, per session id and per turn id, so views carry whatever fields they have (new ones included)
// without this module knowing them.
import type { TurnRecord } from '../store/turn-store.js';

/** Where the feed reads the live state (the route binds them to the manager). */
export interface ConsoleSources {
  /** The full status document of GET /api/opencode/status (`detail: "full"`). */
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

/** The live state read and serialized once per tick; every open console compares against the same frame. */
export interface ConsoleFrame {
  readonly statusJson: string;
  /** The status without its clock-only fields: what decides whether it changed. */
  readonly statusKey: string;
  /** Session id -> the session view as JSON. */
  readonly sessions: ReadonlyMap<string, string>;
  /** Turn id -> the console turn as JSON. */
  readonly turns: ReadonlyMap<number, string>;
  readonly pendingJson: string;
}

export function readFrame(sources: ConsoleSources): ConsoleFrame {
  const status = sources.status();
  return {
    statusJson: JSON.stringify(status),
    statusKey: statusKey(status),
    sessions: new Map(sources.sessions().map((session) => [session.id, JSON.stringify(session)])),
    turns: new Map(sources.recentTurns().map((turn) => [turn.id, JSON.stringify(consoleTurn(turn))])),
    pendingJson: JSON.stringify(sources.pending()),
  };
}

/** One connection's view: what it was last sent, and so what it still needs. */
export class ConsoleFeed {
  private lastStatus = '';
  private lastPending = '';
  private sessions: ReadonlyMap<string, string> = new Map();
  private turns: ReadonlyMap<number, string> = new Map();

  /** The first event of a connection: everything, and the baseline the changes are found against. */
  snapshot(frame: ConsoleFrame): ConsoleEvent {
    this.lastStatus = frame.statusKey;
    this.lastPending = frame.pendingJson;
    this.sessions = frame.sessions;
    this.turns = frame.turns;
    const json = `{"status":${frame.statusJson},"sessions":[${[...frame.sessions.values()].join(',')}],"recentTurns":[${[...frame.turns.values()].join(',')}],"pending":${frame.pendingJson}}`;
    return { event: 'snapshot', json };
  }

  /** What changed between the last frame sent and this one; empty when nothing did. */
  changes(frame: ConsoleFrame): ConsoleEvent[] {
    const events: ConsoleEvent[] = [];
    if (frame.statusKey !== this.lastStatus) {
      this.lastStatus = frame.statusKey;
      events.push({ event: 'status', json: frame.statusJson });
    }
    const upserted = [...frame.sessions].filter(([id, json]) => this.sessions.get(id) !== json).map(([, json]) => json);
    const removed = [...this.sessions.keys()].filter((id) => !frame.sessions.has(id));
    this.sessions = frame.sessions;
    if (upserted.length > 0 || removed.length > 0) {
      events.push({ event: 'sessions', json: `{"upserted":[${upserted.join(',')}],"removed":${JSON.stringify(removed)}}` });
    }
    const changedTurns = [...frame.turns].filter(([id, json]) => this.turns.get(id) !== json).map(([, json]) => json);
    // Turns that fell out of the window are forgotten here; the console keeps its newest ones.
    this.turns = frame.turns;
    if (changedTurns.length > 0) events.push({ event: 'turns', json: `{"upserted":[${changedTurns.join(',')}]}` });
    if (frame.pendingJson !== this.lastPending) {
      this.lastPending = frame.pendingJson;
      events.push({ event: 'pending', json: frame.pendingJson });
    }
    return events;
  }
}
