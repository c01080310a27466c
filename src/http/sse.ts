// Server-sent events on one response: named events with JSON data, and a comment heartbeat so
// proxies keep an idle stream open during a long turn.
import type { Response } from 'express';

const HEARTBEAT_MS = 15000;

export interface SseStream {
  send(event: string, data: unknown): void;
  /** Sends data that is already JSON text (one line), so a large payload is serialized once. */
  sendJson(event: string, json: string): void;
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
  const sendJson = (event: string, json: string): void => {
    if (!open || res.writableEnded) return;
    res.write(`event: ${event}\ndata: ${json}\n\n`);
  };
  return {
    send(event, data) {
      sendJson(event, JSON.stringify(data));
    },
    sendJson,
    close() {
      if (!open) return;
      open = false;
      clearInterval(heartbeat);
      res.end();
    },
  };
}
