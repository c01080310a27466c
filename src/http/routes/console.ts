// The operator console: a static page (public/console/) that reads GET /api/events with the token
// the operator pastes in. The page itself holds no data, so it is served without a token.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { Router } from 'express';

/** public/console/, found from this module: src/http/routes/ under tsx, dist/http/routes/ once built. */
export const CONSOLE_DIR = fileURLToPath(new URL('../../../public/console/', import.meta.url));

export function consoleRoutes(): Router {
  const router = Router();
  router.get('/', (_req, res) => {
    res.redirect(302, '/console');
  });
  router.get('/console', (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(path.join(CONSOLE_DIR, 'index.html'));
  });
  // The page's script and style; index.html is only served at /console.
  router.use('/console', express.static(CONSOLE_DIR, { index: false, redirect: false, fallthrough: true, maxAge: 0 }));
  return router;
}
