// Lists the routes an Express 5 app really has, by walking its router stack (nested routers too).
import type { Server } from 'node:http';

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

export interface RouteEntry {
  readonly method: string;
  readonly path: string;
}

function walk(stack: Layer[], out: RouteEntry[]): void {
  for (const layer of stack) {
    if (layer.route !== undefined) {
      for (const [method, enabled] of Object.entries(layer.route.methods)) {
        if (enabled && method !== '_all') out.push({ method, path: layer.route.path });
      }
    } else if (layer.handle?.stack !== undefined) {
      walk(layer.handle.stack, out);
    }
  }
}

/** The routes of the Express app listening on `server`. */
export function routesOf(server: Server): RouteEntry[] {
  const app = server.listeners('request')[0] as unknown as { router: { stack: Layer[] } };
  const out: RouteEntry[] = [];
  walk(app.router.stack, out);
  return out;
}
