// Bearer authentication for /api/* and (optionally) /metrics. A missing or wrong token gets 401 with
// `WWW-Authenticate: Bearer` (on the open status route: the anonymous answer instead); the caller's
// principal (a digest-derived name, never the token) is kept in res.locals for per-token limits.
import type { RequestHandler, Response } from 'express';
import type { ApiAuth } from '../auth/api-tokens.js';
import type { TokenVerifier } from '../auth/token-verifier.js';
import { sendError } from './http-errors.js';

/** Who is calling: a token principal, or `anonymous` when auth is disabled. */
export function callerOf(res: Response): string {
  const principal: unknown = res.locals.principal;
  return typeof principal === 'string' ? principal : 'anonymous';
}

/** The token of an `Authorization: Bearer <token>` header, or undefined when there is none. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer +(\S+) *$/i.exec(header);
  return match?.[1];
}

function unauthorized(res: Response, presented: boolean): void {
  // RFC 6750: no error attribute when no credentials were sent; invalid_token when they were wrong.
  res.setHeader('WWW-Authenticate', presented ? 'Bearer error="invalid_token"' : 'Bearer');
  sendError(res, 'unauthorized', presented ? 'The bearer token is not valid' : 'This route needs "Authorization: Bearer <token>"');
}

function check(verifier: TokenVerifier, header: string | undefined, refresh: () => boolean): string | undefined {
  const token = bearerToken(header);
  if (token === undefined) return undefined;
  const principal = verifier.verify(token);
  if (principal !== undefined || !refresh()) return principal;
  return verifier.verify(token);
}

/**
 * Whether the request carried a valid API token (always, with OCPM_AUTH=disabled). Only requireApiToken
 * says yes: a route it does not guard counts every caller as anonymous.
 */
export function isAuthenticated(res: Response): boolean {
  return res.locals.authenticated === true;
}

/**
 * Guards the API; `isOpen` lists requests that stay open (the status probe). An open request is still
 * identified: with a valid token it counts as authenticated; without one, or with a wrong one, it goes
 * on anonymous (never 401), and the route answers only what anyone may see.
 */
export function requireApiToken(auth: ApiAuth, isOpen: (method: string, path: string) => boolean): RequestHandler {
  return (req, res, next) => {
    const verifier = auth.verifier;
    if (verifier === undefined) {
      res.locals.authenticated = true;
      next();
      return;
    }
    const principal = check(verifier, req.get('authorization'), () => auth.refresh());
    if (principal !== undefined) {
      res.locals.principal = principal;
      res.locals.authenticated = true;
      next();
      return;
    }
    if (isOpen(req.method, req.path)) {
      next();
      return;
    }
    unauthorized(res, req.get('authorization') !== undefined);
  };
}

/** Replica-to-replica routes: OCPM_PEER_TOKEN when set, else any API token (open only when the API is). */
export function requirePeerToken(peerToken: TokenVerifier | undefined, auth: ApiAuth): RequestHandler {
  if (peerToken === undefined) return requireApiToken(auth, () => false);
  return (req, res, next) => {
    if (check(peerToken, req.get('authorization'), () => false) !== undefined) {
      next();
      return;
    }
    unauthorized(res, req.get('authorization') !== undefined);
  };
}

/** /metrics behind its own token when OCPM_METRICS_TOKEN is set; open otherwise. */
export function requireMetricsToken(verifier: TokenVerifier | undefined): RequestHandler {
  return (req, res, next) => {
    if (verifier === undefined || check(verifier, req.get('authorization'), () => false) !== undefined) {
      next();
      return;
    }
    unauthorized(res, req.get('authorization') !== undefined);
  };
}
