// Errors raised in more than one place (or with a Retry-After), worded once: clients and the CLI
// match on these messages, so every route must say them the same way.
import { OcpmError } from './errors.js';

/** No session `id` here; `hint` says what to do about it. */
export function sessionNotFound(id: string, hint?: string): OcpmError {
  return new OcpmError('session_not_found', hint === undefined ? `No session ${id}` : `No session ${id}; ${hint}`);
}

/** Between replicas: a peer asked `replica` about a session it does not hold. */
export function sessionNotHeld(replica: string, id: string): OcpmError {
  return new OcpmError('session_not_found', `Replica ${replica} does not hold session ${id}`);
}

/** A forwarded request reached a replica that no longer holds the session: the sender asks again. */
export function notOwner(replica: string, id: string): OcpmError {
  return new OcpmError('not_owner', `Replica ${replica} does not hold session ${id}`);
}

/** The replica that owns session `id` does not answer; `reason` says why. */
export function sessionUnavailable(id: string, reason: string, retryAfterSeconds: number): OcpmError {
  return new OcpmError('session_unavailable', `Session ${id} is unavailable: ${reason}; retry after ${retryAfterSeconds} s`, { retryAfterSeconds });
}

/** Over OCPM_RATE_LIMIT_PER_MIN message submissions for this token. */
export function rateLimited(perMinute: number, retryAfterSeconds: number): OcpmError {
  return new OcpmError('rate_limited', `More than ${perMinute} messages per minute for this token; retry after ${retryAfterSeconds} s`, {
    retryAfterSeconds,
  });
}

/** At OCPM_MAX_STREAMS_PER_TOKEN open SSE streams; `advice` says what the client can do instead. */
export function tooManyStreams(advice: string): OcpmError {
  return new OcpmError('too_many_streams', `This token has too many SSE streams open; ${advice}`);
}

export function instanceNotFound(name: string): OcpmError {
  return new OcpmError('instance_not_found', `No server instance ${name}`);
}
