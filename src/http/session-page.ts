// One page of the session list: filtered by state, in id order (stable across calls), `limit` from
// `offset`, with the count after the filter and where the next page starts when there is one.

export interface SessionPageQuery {
  readonly state?: string | undefined;
  readonly limit: number;
  readonly offset: number;
}

export interface SessionPage<T> {
  readonly sessions: T[];
  readonly total: number;
  readonly limit: number;
  readonly offset: number;
  readonly nextOffset?: number;
}

export function pageSessions<T extends { readonly id: string; readonly state?: unknown }>(sessions: readonly T[], query: SessionPageQuery): SessionPage<T> {
  const { state, limit, offset } = query;
  const matching = (state === undefined ? [...sessions] : sessions.filter((session) => session.state === state)).sort((a, b) =>
    a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
  );
  const page = matching.slice(offset, offset + limit);
  const next = offset + page.length;
  return { sessions: page, total: matching.length, limit, offset, ...(next < matching.length ? { nextOffset: next } : {}) };
}
