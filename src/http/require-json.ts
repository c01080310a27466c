// Routes that take a body accept JSON only: anything else is 415, an absent body is left to the
// schema (which reports the missing fields).
import type { RequestHandler } from 'express';
import { OcpmError } from '../errors/errors.js';

function hasBody(headers: Record<string, string | string[] | undefined>): boolean {
  const length = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

export const requireJsonBody: RequestHandler = (req, _res, next) => {
  if (hasBody(req.headers) && !req.is('application/json')) {
    throw new OcpmError('unsupported_media_type', 'The body must be application/json');
  }
  next();
};
