import { allOf, anyOf, group } from '../datadog/search-syntax.ts';
import { readSpansPage, SPANS_PAGE_MAX, spansSearchRequest, type SpanRecord } from '../datadog/spans.ts';
import { AppError } from '../errors.ts';
import type { TimeParams, TimeRange } from '../time/range.ts';
import type { CallContext, UpstreamRequest } from '../upstream/types.ts';
import { DEFAULT_SPAN_MS, type QueryDeps } from './deps.ts';
import { pagedSearch, type SearchResult } from './paged-search.ts';
import { validQuery } from './query-check.ts';
import { checkQuotedValue, envWithin, scopeClauses, servicesWithin, type Scope } from './scope.ts';

/** `GET /traces`: span search. */
export interface SpanSearchParams {
  services: string[];
  query?: string | undefined;
  env?: string | undefined;
  operation?: string | undefined;
  resource?: string | undefined;
  status?: 'ok' | 'error' | undefined;
  /** Span tags that must match exactly (the Tinkr route's `tags`), keys already checked. */
  tags?: Readonly<Record<string, string>> | undefined;
  time: TimeParams;
  limit: number;
  sort: 'asc' | 'desc';
  cursor?: string | undefined;
}

export function composeSpansQuery(params: Omit<SpanSearchParams, 'time' | 'limit' | 'sort' | 'cursor'>, scope: Scope): string {
  const query = validQuery(params.query, 'query', scope);
  const services = servicesWithin(params.services, scope);
  const env = envWithin(params.env, scope);
  if (params.operation !== undefined) checkQuotedValue('operation', params.operation, scope);
  if (params.resource !== undefined) checkQuotedValue('resource', params.resource, scope);
  const tags = Object.entries(params.tags ?? {});
  for (const [key, value] of tags) {
    checkQuotedValue(`tags.${key}`, value, scope);
    // A tag filter on the scope's own dimensions is a request for that service or env.
    if (key === 'service') servicesWithin([value], scope);
    if (key === 'env') envWithin(value, scope);
  }
  return allOf([
    ...scopeClauses(services, env),
    params.operation !== undefined ? anyOf('operation_name', [params.operation]) : undefined,
    params.resource !== undefined ? anyOf('resource_name', [params.resource]) : undefined,
    params.status !== undefined ? `status:${params.status}` : undefined,
    ...tags.map(([key, value]) => anyOf(key, [value])),
    group(query),
  ]);
}

function spansRequest(query: string, sort: 'asc' | 'desc') {
  return (range: TimeRange, pageLimit: number, cursor: string | undefined): UpstreamRequest =>
    spansSearchRequest({ query, fromMs: range.fromMs, toMs: range.toMs, sort, pageLimit, cursor });
}

export function searchSpans(params: SpanSearchParams, scope: Scope, deps: QueryDeps, ctx: CallContext): Promise<SearchResult<SpanRecord>> {
  const query = composeSpansQuery(params, scope);
  return pagedSearch(
    {
      kind: 'spans',
      query,
      parameters: { sort: params.sort },
      time: params.time,
      cursor: params.cursor,
      limit: params.limit,
      maxRangeMs: deps.maxRangeMs.traces,
      defaultSpanMs: DEFAULT_SPAN_MS,
      pageMax: SPANS_PAGE_MAX,
      request: spansRequest(query, params.sort),
      read: readSpansPage,
    },
    deps,
    ctx,
  );
}

/** Default range of `GET /traces/{id}`: the last 24 h (DESIGN §4.4). */
export const TRACE_DEFAULT_SPAN_MS = 24 * 60 * 60 * 1000;
/**
 * Most spans read for one trace. Traces beyond this are pathological (a runaway loop); the
 * answer says it is partial rather than spending the whole spans budget on one trace.
 */
export const MAX_TRACE_SPANS = 10_000;

export interface Trace {
  trace_id: string;
  root_span_id: string | null;
  start: string | null;
  end: string | null;
  duration_ms: number | null;
  span_count: number;
  error_count: number;
  services: string[];
  spans: SpanRecord[];
  meta: { partial: boolean; warnings: Array<{ code: string; message: string }>; bucket_s: number };
}

/** Every span of several traces at once: one search on `trace_id:(a OR b ...)`, paged. */
export async function fetchTraceSpans(
  traceIds: readonly string[],
  time: TimeParams,
  scope: Scope,
  deps: QueryDeps,
  ctx: CallContext,
): Promise<SearchResult<SpanRecord>> {
  const services = servicesWithin([], scope);
  const query = allOf([...scopeClauses(services, envWithin(undefined, scope)), anyOf('trace_id', traceIds)]);
  return pagedSearch(
    {
      kind: 'spans',
      query,
      parameters: { sort: 'asc' },
      time,
      cursor: undefined,
      limit: MAX_TRACE_SPANS,
      maxRangeMs: deps.maxRangeMs.traces,
      defaultSpanMs: TRACE_DEFAULT_SPAN_MS,
      pageMax: SPANS_PAGE_MAX,
      maxPages: Math.ceil(MAX_TRACE_SPANS / SPANS_PAGE_MAX),
      request: spansRequest(query, 'asc'),
      read: readSpansPage,
    },
    deps,
    ctx,
  );
}

/** `GET /traces/{trace_id}`: the whole trace, or NOT_FOUND. */
export async function getTrace(
  traceId: string,
  time: TimeParams,
  scope: Scope,
  deps: QueryDeps,
  ctx: CallContext,
): Promise<{ trace: Trace; cache: SearchResult<SpanRecord>['cache']; fetchedAt: number }> {
  const found = await fetchTraceSpans([traceId], time, scope, deps, ctx);
  if (found.data.length === 0) {
    throw new AppError('NOT_FOUND', `no span of trace ${traceId} in ${found.meta.from} – ${found.meta.to}`);
  }
  const warnings = [...found.meta.warnings];
  let partial = found.meta.partial;
  if (found.after) {
    partial = true;
    warnings.push({ code: 'span_cap', message: `the trace has more than ${MAX_TRACE_SPANS} spans; only the first are shown` });
  }
  return {
    trace: { ...summarize(traceId, found.data), meta: { partial, warnings, bucket_s: found.meta.bucket_s } },
    cache: found.cache,
    fetchedAt: found.fetchedAt,
  };
}

/** Root, bounds, counts and services of one trace's spans; spans ordered by start time. */
export function summarize(traceId: string, spans: readonly SpanRecord[]): Omit<Trace, 'meta'> {
  const ordered = [...spans].sort((a, b) => (a.start ?? '').localeCompare(b.start ?? '') || a.span_id.localeCompare(b.span_id));
  const ids = new Set(ordered.map((s) => s.span_id));
  const root = ordered.find((s) => s.parent_id === null) ?? ordered.find((s) => !ids.has(s.parent_id ?? ''));
  const starts = ordered.map((s) => (s.start ? Date.parse(s.start) : NaN)).filter(Number.isFinite);
  const ends = ordered.map((s) => (s.end ? Date.parse(s.end) : NaN)).filter(Number.isFinite);
  const startMs = starts.length > 0 ? Math.min(...starts) : undefined;
  const endMs = ends.length > 0 ? Math.max(...ends) : undefined;
  const rootDuration = root?.duration_ms ?? null;
  return {
    trace_id: traceId,
    root_span_id: root?.span_id ?? null,
    start: startMs !== undefined ? new Date(startMs).toISOString() : null,
    end: endMs !== undefined ? new Date(endMs).toISOString() : null,
    // The root's own duration is exact (ns); the bounds of the spans only give whole ms.
    duration_ms: rootDuration ?? (startMs !== undefined && endMs !== undefined ? endMs - startMs : null),
    span_count: ordered.length,
    error_count: ordered.filter((s) => s.status === 'error').length,
    services: [...new Set(ordered.map((s) => s.service).filter((s): s is string => s !== null))],
    spans: ordered,
  };
}
