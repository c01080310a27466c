// Routes that take a body accept JSON only: anything else is 415, an absent body is left to the
// schema (which reports the missing fields).
import type { RequestHandler } from 'express';
import { OcpmError } from '../errors/errors.js';

function hasBody(headers: Record<string, string | string[] | undefined>): boolean {
  const length = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** RFC 8259: JSON exchanged between systems is UTF-8; a charset other than that is refused. */
function hasForeignCharset(contentType: string | undefined): boolean {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType ?? '')?.[1];
  return charset !== undefined && !/^utf-?8$/i.test(charset);
}

export const requireJsonBody: RequestHandler = (req, _res, next) => {
  if (hasBody(req.headers) && (!req.is('application/json') || hasForeignCharset(req.get('content-type')))) {
    throw new OcpmError('unsupported_media_type', 'The body must be application/json in UTF-8');
  }
  next();
};
