// GET /api/openapi.json: the document of the whole table, this route included. Built once, when the
// app is: the table does not change while it runs.
import { buildOpenApiDocument } from '../openapi.js';
import { defineRoute, type Route } from '../route-table.js';
import { ignoredQuerySchema } from '../validation.js';

/** `routes` and, after them, the route that documents them all. */
export function withDocumentRoute(routes: readonly Route[]): Route[] {
  let document: Record<string, unknown> = {};
  const self = defineRoute({
    method: 'get',
    path: '/api/openapi.json',
    summary: 'This document',
    security: 'api',
    query: ignoredQuerySchema,
    replies: { 200: { description: 'OpenAPI 3.1 document' } },
    handler: ({ res }) => {
      res.json(document);
    },
  });
  const all = [...routes, self];
  document = buildOpenApiDocument(all);
  return all;
}
