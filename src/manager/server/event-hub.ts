// One upstream subscription to an instance's /global/event stream, fanned out to the listeners of
// each opencode session. A subagent's session is a child of the turn's session: its events reach the
// listeners of every ancestor too (its permission requests are the turn's). Reconnects (with a short
// pause) until closed.
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from '../../logging/logger.js';
import { parentLinkOf, parseBusEvent, sessionIdOf, type BusEvent } from '../../opencode-wire/bus-events.js';
import { errorMessage } from '../../util/guards.js';
import { parseSse } from '../../util/sse-parser.js';
import type { OpencodeClient } from './opencode-client.js';

export type BusListener = (event: BusEvent) => void;

const RECONNECT_PAUSE_MS = 500;
/** Child → parent links remembered (oldest dropped first): far more than the sessions a server runs at once. */
const MAX_PARENT_LINKS = 10000;
/** Deepest subagent nesting followed (a guard against a cycle in bad data). */
const MAX_DEPTH = 8;

export class EventHub {
  private readonly listeners = new Map<string, Set<BusListener>>();
  private readonly parents = new Map<string, string>();
  private readonly reconnectListeners = new Set<() => void>();
  private everConnected = false;
  private readonly controller = new AbortController();
  private connected = false;
  private firstConnection: Promise<void>;
  private resolveFirst!: () => void;

  constructor(
    private readonly client: OpencodeClient,
    private readonly logger: Logger,
  ) {
    this.firstConnection = new Promise((resolve) => (this.resolveFirst = resolve));
    void this.run();
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Resolves once the stream is open (or the hub was closed), bounded by the caller. */
  whenConnected(): Promise<void> {
    return this.firstConnection;
  }

  /** Listens to one opencode session's events; call the returned function to stop. */
  subscribe(opencodeSessionId: string, listener: BusListener): () => void {
    let set = this.listeners.get(opencodeSessionId);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(opencodeSessionId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      // Only its own set: a second call after a new subscription must not drop the new listeners.
      if (set.size === 0 && this.listeners.get(opencodeSessionId) === set) this.listeners.delete(opencodeSessionId);
    };
  }

  /**
   * Called each time the stream opens again after it was cut: events sent meanwhile are lost, so a
   * turn asks opencode for what it may have missed (pending permission requests and questions).
   */
  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  /** True when `sessionId` is `rootId` or one of its (subagent) descendants, as far as the hub saw them created. */
  belongsTo(sessionId: string, rootId: string): boolean {
    for (let current: string | undefined = sessionId, depth = 0; current !== undefined && depth < MAX_DEPTH; current = this.parents.get(current), depth += 1) {
      if (current === rootId) return true;
    }
    return false;
  }

  close(): void {
    this.controller.abort();
    this.resolveFirst();
  }

  private async run(): Promise<void> {
    const signal = this.controller.signal;
    while (!signal.aborted) {
      try {
        const body = await this.client.openGlobalEvents(signal);
        this.connected = true;
        this.resolveFirst();
        if (this.everConnected) this.notifyReconnect();
        this.everConnected = true;
        for await (const message of parseSse(body)) this.dispatch(message.data);
      } catch (error) {
        if (!signal.aborted) this.logger.debug('Event stream interrupted', { error: errorMessage(error) });
      } finally {
        this.connected = false;
      }
      await delay(RECONNECT_PAUSE_MS, undefined, { signal }).catch(() => undefined);
    }
  }

  private dispatch(data: string): void {
    const event = parseBusEvent(data);
    if (event === undefined) return;
    const id = sessionIdOf(event);
    if (id === undefined) return;
    this.learnParent(event);
    for (let current: string | undefined = id, depth = 0; current !== undefined && depth < MAX_DEPTH; current = this.parents.get(current), depth += 1) {
      for (const listener of this.listeners.get(current) ?? []) {
        // One listener's bug must not cut the stream every other session's turn reads.
        try {
          listener(event);
        } catch (error) {
          this.logger.warn('A bus event listener threw; the event stream goes on', { error: errorMessage(error) });
        }
      }
    }
  }

  private notifyReconnect(): void {
    for (const listener of this.reconnectListeners) {
      try {
        listener();
      } catch (error) {
        this.logger.warn('A reconnect listener threw', { error: errorMessage(error) });
      }
    }
  }

  /** A session created with a parent (a subagent's) is linked to it. */
  private learnParent(event: BusEvent): void {
    const link = parentLinkOf(event);
    if (link === undefined || this.parents.has(link.id)) return;
    this.parents.set(link.id, link.parentID);
    if (this.parents.size > MAX_PARENT_LINKS) this.parents.delete(this.parents.keys().next().value as string);
  }
}
