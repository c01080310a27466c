// CORS, closed unless OCPM_CORS_ORIGINS lists origins: a listed origin gets the allow headers (and an
// answer to its preflight, which browsers send without credentials, so before authentication); any
// other origin gets no CORS headers, and the browser keeps the response from the page.
import type { RequestHandler } from 'express';

const ALLOWED_METHODS = 'GET, PUT, POST, DELETE';
const ALLOWED_HEADERS = 'Authorization, Content-Type, Accept';
const PREFLIGHT_MAX_AGE_SECONDS = '600';

export function corsPolicy(origins: readonly string[]): RequestHandler {
  // Closed: nothing to add to any response (not even Vary, which only matters when CORS answers vary).
  if (origins.length === 0) return (_req, _res, next) => next();
  const anyOrigin = origins.includes('*');
  const listed = new Set(origins);
  return (req, res, next) => {
    const origin = req.get('origin');
    res.vary('Origin');
    if (origin === undefined || !(anyOrigin || listed.has(origin))) {
      next();
      return;
    }
    res.setHeader('Access-Control-Allow-Origin', anyOrigin ? '*' : origin);
    if (req.method === 'OPTIONS' && req.get('access-control-request-method') !== undefined) {
      res.setHeader('Access-Control-Allow-Methods', ALLOWED_METHODS);
      res.setHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS);
      res.setHeader('Access-Control-Max-Age', PREFLIGHT_MAX_AGE_SECONDS);
      res.status(204).end();
      return;
    }
    next();
  };
}
