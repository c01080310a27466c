// The operator console: a static page (public/console/) that reads GET /api/events with the token
// the operator pastes in. The page itself holds no data, so it is served without a token.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type RequestHandler } from 'express';
import { defineRoute, type Route } from '../route-table.js';
import { ignoredQuerySchema } from '../validation.js';

/** public/console/, found from this module: src/http/routes/ under tsx, dist/http/routes/ once built. */
export const CONSOLE_DIR = fileURLToPath(new URL('../../../public/console/', import.meta.url));

export function consoleRoutes(): Route[] {
  return [
    defineRoute({
      method: 'get',
      path: '/',
      summary: 'Redirects to the operator console',
      security: 'none',
      query: ignoredQuerySchema,
      replies: { 302: { description: 'To /console' } },
      handler: ({ res }) => {
        res.redirect(302, '/console');
      },
    }),
    defineRoute({
      method: 'get',
      path: '/console',
      summary: 'The operator console, a static page (its data comes from GET /api/events with the API token)',
      security: 'none',
      query: ignoredQuerySchema,
      replies: { 200: { description: 'The page', contentType: 'text/html' } },
      handler: ({ res }) => {
        res.setHeader('Cache-Control', 'no-cache');
        res.sendFile(path.join(CONSOLE_DIR, 'index.html'));
      },
    }),
  ];
}

/**
 * The page's script and style under /console/ (index.html is only served at /console). Files, not
 * operations: the document leaves them out, as it always has.
 */
export function consoleFiles(): RequestHandler {
  return express.static(CONSOLE_DIR, { index: false, redirect: false, fallthrough: true, maxAge: 0 });
}
