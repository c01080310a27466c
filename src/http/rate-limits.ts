// Abuse limits per caller: message submissions per minute (express-rate-limit, keyed by token
// principal; 429 rate_limited with Retry-After) and open SSE streams (the routes answer 429
// too_many_streams when acquire() refuses).
import { rateLimit } from 'express-rate-limit';
import type { RequestHandler } from 'express';
import { rateLimited } from '../errors/factories.js';
import { callerOf } from './auth.js';

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
    // The error handler answers it, Retry-After included, like every other refusal.
    handler: (req, _res, next) => {
      const resetTime = (req as { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      const seconds = resetTime === undefined ? WINDOW_MS / 1000 : Math.max(1, Math.ceil((resetTime.getTime() - Date.now()) / 1000));
      next(rateLimited(perMinute, seconds));
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
