import type { SimData } from '../data/source.ts';
import { truncatePage, type PageResult } from '../search/page.ts';
import type { SortOrder } from '../wire.ts';

/** What a search handler needs besides the request. */
export interface SearchContext {
  readonly nowMs: number;
  /** `http://host:port` the client used, for `links.next`. */
  readonly origin: string;
  /** A `timeout` fault: answer a partial page with `meta.status: "timeout"`. */
  readonly timedOut: boolean;
  readonly requestId: string;
  readonly elapsedMs: () => number;
  /** The events served: generated data plus injected bursts. */
  readonly data: SimData;
}

/** Datadog's page size bound for both searches. */
export const MAX_PAGE_LIMIT = 1_000;
/** `page.limit` when absent. */
export const DEFAULT_PAGE_LIMIT = 10;
/** Newest first when `sort` is absent, as the Datadog search UI and API list do. */
export const DEFAULT_SORT: SortOrder = '-timestamp';

export interface SearchBasics {
  query: string;
  from: string;
  to: string;
  sort: SortOrder;
  limit: number;
  cursor: string | undefined;
}

/**
 * Reads the parts logs and spans searches share (`filter.query/from/to`, `page`, `sort`), with
 * Datadog's defaults; returns an error message naming the bad field.
 */
export function readSearchBasics(input: { filter: Record<string, unknown>; page: unknown; sort: unknown; prefix: string }): SearchBasics | string {
  const { prefix } = input;
  const filter = readFilter(input.filter, prefix);
  if (typeof filter === 'string') return filter;
  const { query, from, to } = filter;
  const page = input.page ?? {};
  if (typeof page !== 'object' || page === null || Array.isArray(page)) return `${prefix}page must be an object`;
  const p = page as Record<string, unknown>;
  const limit = p['limit'] ?? DEFAULT_PAGE_LIMIT;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) return `${prefix}page.limit must be a positive integer`;
  if (limit > MAX_PAGE_LIMIT) return `${prefix}page.limit must be less than or equal to ${MAX_PAGE_LIMIT}`;
  const cursor = p['cursor'];
  if (cursor !== undefined && typeof cursor !== 'string') return `${prefix}page.cursor must be a string`;
  const sort = input.sort ?? DEFAULT_SORT;
  if (sort !== 'timestamp' && sort !== '-timestamp') return `${prefix}sort must be one of timestamp, -timestamp`;
  return { query, from, to, sort, limit, cursor };
}

/**
 * `filter.query`, `filter.from` and `filter.to` with Datadog's defaults (everything over the last
 * 15 minutes), as the searches and the aggregates read them; an error message naming the bad field.
 */
export function readFilter(filter: Record<string, unknown>, prefix: string): { query: string; from: string; to: string } | string {
  const query = filter['query'] ?? '*';
  if (typeof query !== 'string') return `${prefix}filter.query must be a string`;
  const from = filter['from'] ?? 'now-15m';
  if (typeof from !== 'string') return `${prefix}filter.from must be a string (date math, ISO 8601 or epoch milliseconds)`;
  const to = filter['to'] ?? 'now';
  if (typeof to !== 'string') return `${prefix}filter.to must be a string (date math, ISO 8601 or epoch milliseconds)`;
  return { query, from, to };
}

/**
 * The body of one page of a logs or spans search, as Datadog frames both: the events, `meta`
 * (elapsed time, request id, status, the cursor, then `extraMeta`) and, when more match,
 * `links.next`: the endpoint's GET form at `nextPath` with `nextFilter`, the cursor, the limit
 * and the sort. A search that timed out (a `timeout` fault) answers the first half of its page,
 * with `meta.status: "timeout"` and a cursor right after it.
 */
export function searchPageBody<T>(
  ctx: SearchContext,
  result: Extract<PageResult<T>, { ok: true }>,
  request: { limit: number; sort: SortOrder },
  next: { path: string; filter: Record<string, string> },
  extraMeta: Record<string, unknown> = {},
): Record<string, unknown> {
  const { page, after } = ctx.timedOut ? truncatePage(result, Math.floor(result.page.length / 2)) : result;
  const meta: Record<string, unknown> = {
    elapsed: ctx.elapsedMs(),
    request_id: ctx.requestId,
    status: ctx.timedOut ? 'timeout' : 'done',
  };
  if (after) meta['page'] = { after };
  Object.assign(meta, extraMeta);
  const body: Record<string, unknown> = { data: page.map((t) => t.event), meta };
  if (after) {
    const url = new URL(next.path, ctx.origin);
    for (const [name, value] of Object.entries(next.filter)) url.searchParams.set(name, value);
    url.searchParams.set('page[cursor]', after);
    url.searchParams.set('page[limit]', String(request.limit));
    url.searchParams.set('sort', request.sort);
    body['links'] = { next: url.toString() };
  }
  return body;
}
