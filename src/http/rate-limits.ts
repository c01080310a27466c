// Abuse limits per caller: message submissions per minute (express-rate-limit, keyed by token
// principal) and open SSE streams. Both answer 429 with Retry-After in our error shape.
import { rateLimit } from 'express-rate-limit';
import type { RequestHandler } from 'express';
import { callerOf } from './auth.js';
import { sendError } from './http-errors.js';

const WINDOW_MS = 60_000;

/** OCPM_RATE_LIMIT_PER_MIN message submissions per principal per minute; 0 turns it off. */
export function messageRateLimit(perMinute: number): RequestHandler {
  if (perMinute === 0) return (_req, _res, next) => next();
  return rateLimit({
    windowMs: WINDOW_MS,
    limit: perMinute,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    keyGenerator: (_req, res) => callerOf(res),
    // Keyed by token, never by IP: its proxy/IP sanity checks do not apply (and would log noise behind an ingress).
    validate: false,
    handler: (req, res) => {
      const resetTime = (req as { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      const seconds = resetTime === undefined ? WINDOW_MS / 1000 : Math.max(1, Math.ceil((resetTime.getTime() - Date.now()) / 1000));
      res.setHeader('Retry-After', String(seconds));
      sendError(res, 'rate_limited', `More than ${perMinute} messages per minute for this token; retry after ${seconds} s`);
    },
  });
}

/** Counts open SSE streams per principal. */
export class StreamLimiter {
  private readonly open = new Map<string, number>();

  constructor(private readonly maxPerPrincipal: number) {}

  /** A release function, or undefined when the principal is at its cap. */
  acquire(principal: string): (() => void) | undefined {
    const count = this.open.get(principal) ?? 0;
    if (count >= this.maxPerPrincipal) return undefined;
    this.open.set(principal, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(principal) ?? 1) - 1;
      if (left === 0) this.open.delete(principal);
      else this.open.set(principal, left);
    };
  }
}
