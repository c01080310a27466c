// GET /api/events: the operator console's live stream. One `snapshot` event, then every
// OCPM_EVENTS_INTERVAL_MS only what changed for this connection (console-feed.ts, from the frame the
// hub reads once for every connection), until the client goes away. This replica's sessions only:
// with peers, each replica has its own console.
import { tooManyStreams } from '../../errors/factories.js';
import type { Logger } from '../../logging/logger.js';
import type { OpencodeProcessManager } from '../../manager/index.js';
import { errorMessage } from '../../util/guards.js';
import { callerOf } from '../auth.js';
import { ConsoleFeed, type ConsoleSources } from '../console-feed.js';
import { ConsoleHub } from '../console-hub.js';
import type { StreamLimiter } from '../rate-limits.js';
import { failure } from '../replies.js';
import { defineRoute, type Route } from '../route-table.js';
import { openSse } from '../sse.js';

/** How many of the latest turns (across sessions) the console shows. */
export const RECENT_TURNS = 50;

export interface EventRouteDeps {
  readonly manager: OpencodeProcessManager;
  /** The full document GET /api/opencode/status answers with a token (the stream needs one). */
  readonly status: () => object;
  /** OCPM_EVENTS_INTERVAL_MS. */
  readonly intervalMs: number;
  /** Shared with the message streams: one budget of open streams per token. */
  readonly streamLimiter: StreamLimiter;
  readonly logger: Logger;
}

/** What the console's feed reads from the manager (the bench measures the same). */
export function managerSources(manager: OpencodeProcessManager, status: () => object): ConsoleSources {
  return {
    status,
    sessions: () => manager.listSessions(),
    recentTurns: () => manager.turns.recent(RECENT_TURNS),
    pending: () => manager.userRequests.listAll(),
  };
}

export function eventRoutes(deps: EventRouteDeps): Route[] {
  const { manager } = deps;
  const hub = new ConsoleHub(managerSources(manager, deps.status), deps.intervalMs);
  return [
    defineRoute({
      method: 'get',
      path: '/api/events',
      summary:
        "The operator console's SSE stream: a snapshot event ({ status, sessions, recentTurns, pending }), then status, sessions ({ upserted, removed }), turns ({ upserted }) and pending events when they change",
      security: 'api',
      replies: {
        200: { description: 'An SSE stream that stays open', contentType: 'text/event-stream' },
        400: failure('A query string'),
        429: failure('Too many streams open for this token'),
      },
      handler: ({ res }) => {
        const releaseSlot = deps.streamLimiter.acquire(callerOf(res));
        if (releaseSlot === undefined) throw tooManyStreams('close one');
        const feed = new ConsoleFeed();
        const stream = openSse(res);
        const releaseGauge = manager.trackStream();
        const unsubscribe = hub.subscribe({
          frame: (frame) => {
            // A client that reads slowly gets the accumulated changes at a later tick, not a growing buffer.
            if (res.writableNeedDrain) return;
            for (const change of feed.changes(frame)) stream.sendJson(change.event, change.json);
          },
          fail: (error) => {
            // End the stream, never the process.
            deps.logger.warn('The console stream ended: its state could not be read', { error: errorMessage(error) });
            stream.close();
          },
        });
        res.once('close', () => {
          unsubscribe();
          releaseGauge();
          releaseSlot();
        });
        const snapshot = feed.snapshot(hub.read());
        stream.sendJson(snapshot.event, snapshot.json);
      },
    }),
  ];
}
