// Server-sent events on one response: named events with JSON data, and a comment heartbeat so
// proxies keep an idle stream open during a long turn.
import type { Response } from 'express';

const HEARTBEAT_MS = 15000;

export interface SseStream {
  send(event: string, data: unknown): void;
  /** Ends the stream; further sends are ignored. */
  close(): void;
}

export function openSse(res: Response): SseStream {
  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache, no-transform');
  res.setHeader('Connection', 'keep-alive');
  res.setHeader('X-Accel-Buffering', 'no');
  res.flushHeaders();
  let open = true;
  const heartbeat = setInterval(() => {
    if (open) res.write(': ping\n\n');
  }, HEARTBEAT_MS);
  heartbeat.unref();
  res.once('close', () => {
    open = false;
    clearInterval(heartbeat);
  });
  return {
    send(event, data) {
      if (!open || res.writableEnded) return;
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    close() {
      if (!open) return;
      open = false;
      clearInterval(heartbeat);
      res.end();
    },
  };
}
