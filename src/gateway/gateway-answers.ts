// The answers the gateway gives itself instead of relaying a provider's: errors and refusals, in the
// caller's wire format, because opencode shows their message as the turn's error.
import type { ServerResponse } from 'node:http';
import type { Admission } from './model-ledger.js';
import type { Wire } from './wire-formats.js';

export function sendError(res: ServerResponse, wire: Wire, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = wire === 'anthropic' ? { type: 'error', error: { type: code, message } } : { error: { message, type: code, code } };
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** A call its session's call rate (429, with when to retry) or budget (402) does not admit. */
export function sendRefusal(res: ServerResponse, wire: Wire, refusal: Extract<Admission, { ok: false }>): void {
  if (refusal.reason === 'rate') {
    const seconds = Math.ceil((refusal.retryAfterMs ?? 1000) / 1000);
    sendError(res, wire, 429, 'rate_limit_error', `Session model call limit: ${refusal.message}`, {
      'retry-after': String(seconds),
      'retry-after-ms': String(refusal.retryAfterMs ?? 1000),
    });
    return;
  }
  // 402: opencode does not retry it, so the turn ends here with this message.
  sendError(res, wire, 402, 'budget_exceeded', `budget_exceeded: ${refusal.message}`);
}
