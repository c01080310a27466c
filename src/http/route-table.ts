// The HTTP surface declared once: each route says its method, path, who may call it, what it takes
// (the zod schemas of validation.ts) and what it answers. mountRoutes() parses the input with those
// schemas before the handler runs, and openapi.ts documents the same objects, so the app and its
// document cannot drift apart.
import type { Express, NextFunction, Request, RequestHandler, Response, Router } from 'express';
import type { z } from 'zod';
import { noBodySchema, noQuerySchema, parse } from './validation.js';

export type Method = 'get' | 'put' | 'post' | 'delete';

/**
 * `api`: the API token (app.ts guards all of /api). `api-optional`: open, and a valid API token gets
 * a fuller answer (the status); never 401. `metrics`: OCPM_METRICS_TOKEN when set. `peer`: replica to
 * replica (OCPM_PEER_TOKEN), not part of the public document.
 */
export type Security = 'api' | 'api-optional' | 'metrics' | 'none' | 'peer';

export interface Reply {
  readonly description: string;
  readonly schema?: z.ZodType;
  /** application/json when a schema is given and this is not. */
  readonly contentType?: string;
}

/** The shape of path and query schemas: the document lists their fields one by one. */
export type FieldsSchema = z.ZodObject<Record<string, z.ZodType>>;

/** What a handler gets: the input as its schemas parsed it, and Express's own objects. */
export interface RouteInput<P, Q, B> {
  readonly params: P;
  readonly query: Q;
  readonly body: B;
  readonly req: Request;
  readonly res: Response;
  readonly next: NextFunction;
}

interface RouteShape {
  readonly method: Method;
  /** Express syntax (`:id`); the document uses `{id}`. */
  readonly path: string;
  readonly summary: string;
  readonly security: Security;
  readonly replies: Readonly<Record<number, Reply>>;
  /** Middleware that runs before the input is parsed (a rate limit, a token check). */
  readonly use?: readonly RequestHandler[];
  /** What a request without a body reads as (a PUT without one takes the defaults). */
  readonly absentBody?: Record<string, never>;
}

export interface RouteSpec<P extends FieldsSchema, Q extends FieldsSchema, B extends z.ZodType> extends RouteShape {
  /** Left out: the path has no parameters. */
  readonly params?: P;
  /** Left out: noQuerySchema, any query is refused. */
  readonly query?: Q;
  /** Left out: noBodySchema (none, or `{}`), except on GET, which reads no body. */
  readonly body?: B;
  readonly handler: (input: RouteInput<z.output<P>, z.output<Q>, z.output<B>>) => void | Promise<void>;
}

/** A route of the table, its input schemas settled (defaults applied). */
export interface Route extends RouteShape {
  readonly params: FieldsSchema | undefined;
  readonly query: FieldsSchema;
  readonly body: z.ZodType | undefined;
  readonly handler: (input: RouteInput<unknown, unknown, unknown>) => void | Promise<void>;
}

export function defineRoute<
  P extends FieldsSchema = z.ZodObject<Record<string, never>>,
  Q extends FieldsSchema = typeof noQuerySchema,
  B extends z.ZodType = typeof noBodySchema,
>(spec: RouteSpec<P, Q, B>): Route {
  return {
    ...spec,
    params: spec.params,
    query: spec.query ?? noQuerySchema,
    body: spec.body ?? (spec.method === 'get' ? undefined : noBodySchema),
    // mountRoutes parses with these very schemas, so the input has the types the handler was declared with.
    handler: spec.handler as Route['handler'],
  };
}

/** Mounts the routes on `router`, each parsing params, query and body (in that order) before its handler. */
export function mountRoutes(router: Router, routes: readonly Route[]): Router {
  for (const route of routes) {
    const handle: RequestHandler = async (req, res, next) => {
      const params = route.params === undefined ? {} : parse(route.params, req.params, 'params');
      const query = parse(route.query, req.query, 'query');
      const body = route.body === undefined ? undefined : parse(route.body, req.body ?? route.absentBody, 'body');
      await route.handler({ params, query, body, req, res, next });
    };
    router[route.method](route.path, ...(route.use ?? []), handle);
  }
  return router;
}

const TABLE_KEY = 'routeTable';

/** Keeps the table on the app it was mounted on: tests check the app against it. */
export function recordRouteTable(app: Express, routes: readonly Route[]): void {
  app.locals[TABLE_KEY] = routes;
}

export function routeTableOf(app: Express): readonly Route[] {
  const routes: unknown = app.locals[TABLE_KEY];
  return Array.isArray(routes) ? (routes as Route[]) : [];
}
