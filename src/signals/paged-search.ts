import { isoMs } from '../time/instant.ts';
import { timeSpecKey, type AskedRange, type TimeRange, type TimeSpec } from '../time/range.ts';
import type { UpstreamRequest } from '../upstream-call.ts';
import type { AnswerIO, AnswerQuery } from '../upstream/answer.ts';
import { collectPages, type Page, type PagingResult } from '../upstream/paging.ts';
import type { Warning } from '../warnings.ts';
import { fingerprint } from './cursor.ts';
import type { QueryDeps } from './deps.ts';

/** How one search reads its pages from Datadog. */
export interface PageSource<T> {
  pageMax: number;
  maxPages?: number | undefined;
  request(range: TimeRange, pageLimit: number, cursor: string | undefined): UpstreamRequest;
  read(body: unknown): Page<T>;
}

/** What differs between the logs and spans searches; the paging and cursor logic is shared. */
export interface PagedSearchSpec<T> extends PageSource<T> {
  kind: 'logs' | 'spans';
  /** The answer's route name (answer.ts): the same search rendered for another route is another entry. */
  route: string;
  /** The composed Datadog query. */
  query: string;
  /** Other parameters that define the result set (sort, indexes, ...), for the cursor fingerprint. */
  parameters: Record<string, unknown>;
  /** The range asked for; a cursor's pinned range takes its place on later pages. */
  time: AskedRange;
  cursor: string | undefined;
  limit: number;
  maxRangeMs: number;
}

/** Response `meta` of the paged search routes (docs/http-api.md#get-logs, #get-traces-and-get-tracestrace_id). */
export interface SearchMeta {
  from: string;
  to: string;
  count: number;
  next_cursor: string | null;
  partial: boolean;
  warnings: Warning[];
  /** The time bucket a relative range was snapped to, in seconds; 0 for an absolute range. */
  bucket_s: number;
}

export interface SearchResult<T> {
  data: T[];
  meta: SearchMeta;
  /** Datadog's cursor past the last item, when more remain. */
  after: string | undefined;
}

/** `{data, meta}`: the native routes' body of a search. */
export function searchBody<T>(result: SearchResult<T>): unknown {
  return { data: result.data, meta: result.meta };
}

/** Pages upstream to `limit` items of `range` (from `resumeAt`), every call through the answer's io. */
export function searchPages<T>(source: PageSource<T>, range: TimeRange, io: AnswerIO, limit: number, maxPages: number, resumeAt?: string): Promise<PagingResult<T>> {
  return collectPages<T>({
    limit,
    pageMax: source.pageMax,
    maxPages: source.maxPages ?? maxPages,
    cursor: resumeAt,
    fetch: async (pageLimit, cursor) => source.read((await io.fetch(source.request(range, pageLimit, cursor))).body),
  });
}

/**
 * The engine query of one paged search: a first page over the caller's range, or, with a
 * cursor, the next page of the range the cursor pins. The answer carries its own next cursor,
 * signed once when the answer is made and valid as long as it may be served from the cache.
 * `render` shapes the finished body (default `{data, meta}`).
 */
export function pagedSearch<T>(spec: PagedSearchSpec<T>, deps: QueryDeps, render: (result: SearchResult<T>) => unknown = searchBody): AnswerQuery {
  const timeKey = timeSpecKey(spec.time);
  // Hashed only when a cursor is read or signed: a cache hit never needs it.
  let print: string | undefined;
  const cursorPrint = () => (print ??= fingerprint({ kind: spec.kind, query: spec.query, ...spec.parameters, time: timeKey }));
  let time: TimeSpec;
  let resumeAt: string | undefined;
  if (spec.cursor) {
    const state = deps.cursors.decode(spec.cursor, spec.kind, cursorPrint());
    // The cursor pins the first page's (snapped) range: later pages are absolute.
    time = { kind: 'pinned', fromMs: state.fromMs, toMs: state.toMs, stepMs: state.stepMs };
    resumeAt = state.after;
  } else {
    time = spec.time;
  }

  return {
    family: spec.kind,
    route: spec.route,
    // What the cursor fingerprint covers (the cache key hashes it), and the page asked for.
    identity: [spec.kind, spec.query, spec.parameters, timeKey, spec.limit, resumeAt ?? null],
    time,
    maxRangeMs: spec.maxRangeMs,
    weight: spec.limit,
    async produce(range, io) {
      const result = await searchPages(spec, range, io, spec.limit, deps.maxPages, resumeAt);
      const next = result.after
        ? deps.cursors.encode({ kind: spec.kind, fingerprint: cursorPrint(), fromMs: range.fromMs, toMs: range.toMs, stepMs: range.stepMs, after: result.after }, io.servedUntil)
        : null;
      return render({
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
        after: result.after,
      });
    },
  };
}
