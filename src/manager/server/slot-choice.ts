// Which pool slot a session gets: pure functions of the slots' load, so the choice is tested alone.

export interface SlotLoad {
  readonly index: number;
  /** Its instance can take a turn now. */
  readonly ready: boolean;
  readonly activeTurns: number;
  /** Sessions pinned to it. */
  readonly pinned: number;
}

/** Shared pool, a session's first use: a ready slot first, then the fewest running turns, then the fewest sessions, then the lowest index. */
export function chooseSharedSlot(slots: readonly SlotLoad[]): number {
  const best = [...slots].sort((a, b) => Number(b.ready) - Number(a.ready) || a.activeTurns - b.activeTurns || a.pinned - b.pinned || a.index - b.index)[0];
  return best?.index ?? 0;
}

/** States an isolated slot can be given away in (its server is up, down or waiting, not mid-start or mid-stop). */
export const GIVABLE_STATES: readonly string[] = ['ready', 'stopped', 'failed', 'backoff'];

export interface SlotOccupancy {
  readonly index: number;
  /** Serves a session now. */
  readonly occupied: boolean;
  /** No turn holds it or runs on it. */
  readonly unheld: boolean;
  readonly state: string;
  /** A memory or health replacement is under way. */
  readonly recyclePending: boolean;
  /** When a turn last took or left it. */
  readonly lastUsed: number;
}

/**
 * Isolated pool, a session without a slot: a free slot first, else the least recently used one that
 * no turn holds and that is not starting, stopping or being replaced; undefined when there is none.
 */
export function chooseIsolatedSlot(slots: readonly SlotOccupancy[]): number | undefined {
  const candidates = slots.filter((slot) => !slot.occupied || (slot.unheld && GIVABLE_STATES.includes(slot.state) && !slot.recyclePending));
  const best = candidates.sort((a, b) => Number(a.occupied) - Number(b.occupied) || a.lastUsed - b.lastUsed || a.index - b.index)[0];
  return best?.index;
}
