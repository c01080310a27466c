// The one place where errors become HTTP responses: { "error": { "code", "message" } }.
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { httpStatusOf, type ErrorCode } from '../errors/codes.js';
import { OcpmError } from '../errors/errors.js';
import type { Logger } from '../logging/logger.js';

export interface ErrorBody {
  error: { code: ErrorCode; message: string; [detail: string]: unknown };
}

export function errorBody(code: ErrorCode, message: string, details?: Readonly<Record<string, unknown>>): ErrorBody {
  return { error: { ...details, code, message } };
}

export function sendError(res: Response, code: ErrorCode, message: string, details?: Readonly<Record<string, unknown>>): void {
  res.status(httpStatusOf(code)).json(errorBody(code, message, details));
}

/** Errors raised by express.json (body-parser) carry a `type`; map them to our codes. */
function fromBodyParser(error: unknown): OcpmError | undefined {
  if (typeof error !== 'object' || error === null || !('type' in error)) return undefined;
  switch (error.type) {
    case 'entity.too.large':
      return new OcpmError('payload_too_large', 'The request body is too large');
    case 'entity.parse.failed':
      return new OcpmError('invalid_json', 'The request body is not valid JSON');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new OcpmError('unsupported_media_type', 'Unsupported body encoding or charset');
    case 'request.aborted':
      return new OcpmError('invalid_request', 'The request was aborted by the client');
    default:
      return new OcpmError('invalid_request', 'The request body could not be read');
  }
}

/**
 * Client errors raised inside Express or body-parser without a body-parser `type` (a malformed
 * %-escape in the path, a corrupt gzip/deflate body) carry a 4xx `status`: they are the client's
 * fault and get a 4xx, never a 500.
 */
function fromClientStatus(error: unknown): OcpmError | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const status = 'status' in error ? error.status : 'statusCode' in error ? error.statusCode : undefined;
  if (typeof status !== 'number' || status < 400 || status > 499) return undefined;
  if (status === 413) return new OcpmError('payload_too_large', 'The request body is too large');
  if (status === 415) return new OcpmError('unsupported_media_type', 'Unsupported body encoding or media type');
  return new OcpmError('invalid_request', 'The request is malformed (path encoding or body encoding)');
}

export function toOcpmError(error: unknown): OcpmError | undefined {
  if (error instanceof OcpmError) return error;
  return fromBodyParser(error) ?? fromClientStatus(error);
}

export const notFoundHandler: RequestHandler = (req, res) => {
  sendError(res, 'not_found', `No route for ${req.method} ${req.path}`);
};

export function createErrorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    const known = toOcpmError(error);
    if (known === undefined) {
      logger.error('Unhandled error in request', { method: req.method, path: req.path, error: error instanceof Error ? error.stack : String(error) });
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    if (known === undefined) {
      sendError(res, 'internal_error', 'Internal error; see the service log');
      return;
    }
    // Whoever raised it (the queue, the rate limit, an unreachable owner) said when to come back.
    if (known.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(known.retryAfterSeconds));
    sendError(res, known.code, known.message, known.details);
  };
}
