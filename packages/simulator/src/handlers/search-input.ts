import type { SimData } from '../data/source.ts';
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
  const { filter, prefix } = input;
  const query = filter['query'] ?? '*';
  if (typeof query !== 'string') return `${prefix}filter.query must be a string`;
  const from = filter['from'] ?? 'now-15m';
  if (typeof from !== 'string') return `${prefix}filter.from must be a string (date math, ISO 8601 or epoch milliseconds)`;
  const to = filter['to'] ?? 'now';
  if (typeof to !== 'string') return `${prefix}filter.to must be a string (date math, ISO 8601 or epoch milliseconds)`;
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
