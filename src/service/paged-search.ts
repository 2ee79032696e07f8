import { isoMs } from '../time/instant.ts';
import { resolveRange, type TimeParams, type TimeRange } from '../time/range.ts';
import { collectPages, type Page } from '../upstream/paging.ts';
import type { CacheStatus, CallContext, UpstreamRequest } from '../upstream/types.ts';
import { withWindow } from '../upstream/window.ts';
import { fingerprint } from './cursor.ts';
import type { QueryDeps, SearchMeta } from './deps.ts';

/** What differs between the logs and spans searches; the paging and cursor logic is shared. */
export interface PagedSearchSpec<T> {
  kind: 'logs' | 'spans';
  /** The composed Datadog query. */
  query: string;
  /** Other parameters that define the result set (sort, indexes, ...), for the cursor fingerprint. */
  parameters: Record<string, unknown>;
  time: TimeParams;
  cursor: string | undefined;
  limit: number;
  maxRangeMs: number;
  defaultSpanMs: number;
  pageMax: number;
  maxPages?: number;
  request(range: TimeRange, pageLimit: number, cursor: string | undefined): UpstreamRequest;
  read(body: unknown): Omit<Page<T>, 'cache' | 'fetchedAt'>;
}

export interface SearchResult<T> {
  data: T[];
  meta: SearchMeta;
  cache: CacheStatus;
  /** When Datadog gave the oldest page of this answer (epoch ms); the `Age` header. */
  fetchedAt: number;
  /** Datadog's cursor past the last item, when more remain. */
  after: string | undefined;
}

/** One paged search: resolve or resume the range, page upstream to the limit, sign the next cursor. */
export async function pagedSearch<T>(spec: PagedSearchSpec<T>, deps: QueryDeps, ctx: CallContext): Promise<SearchResult<T>> {
  const print = fingerprint({
    kind: spec.kind,
    query: spec.query,
    ...spec.parameters,
    from: spec.time.from,
    to: spec.time.to,
    since: spec.time.since,
  });
  let range: TimeRange;
  let resumeAt: string | undefined;
  if (spec.cursor) {
    const state = deps.cursors.decode(spec.cursor, spec.kind, print);
    // The cursor pins the first page's (snapped) range: later pages are absolute.
    range = { fromMs: state.fromMs, toMs: state.toMs, relative: false, stepMs: state.stepMs };
    resumeAt = state.after;
  } else {
    range = resolveRange(spec.time, { nowMs: deps.clock.now(), defaultSpanMs: spec.defaultSpanMs, maxRangeMs: spec.maxRangeMs, steps: deps.steps });
  }

  const result = await collectPages<T>({
    limit: spec.limit,
    pageMax: spec.pageMax,
    maxPages: spec.maxPages ?? deps.maxPages,
    cursor: resumeAt,
    fetch: async (pageLimit, cursor) => {
      // Only a first page belongs to a panel's series of buckets; a Datadog cursor is unique.
      const pageRange = { ...range, relative: range.relative && cursor === undefined };
      const reply = await deps.upstream.send(withWindow(pageRange, (r) => spec.request(r, pageLimit, cursor)), ctx);
      // A stale answer from an earlier bucket covers that bucket's range; so do its next pages.
      if (reply.window) range = { ...range, fromMs: reply.window.fromMs, toMs: reply.window.toMs };
      const page = spec.read(reply.body);
      return { ...page, warnings: [...page.warnings, ...(reply.warnings ?? [])], cache: reply.cache, fetchedAt: reply.fetchedAt };
    },
  });

  const next = result.after
    ? deps.cursors.encode({ kind: spec.kind, fingerprint: print, fromMs: range.fromMs, toMs: range.toMs, stepMs: range.stepMs, after: result.after })
    : null;
  return {
    data: result.items,
    meta: {
      from: isoMs(range.fromMs),
      to: isoMs(range.toMs),
      count: result.items.length,
      next_cursor: next,
      partial: result.partial,
      warnings: result.warnings,
      bucket_s: range.stepMs / 1000,
    },
    cache: result.cache,
    fetchedAt: result.fetchedAt ?? deps.clock.now(),
    after: result.after,
  };
}
