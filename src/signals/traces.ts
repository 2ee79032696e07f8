import { validQuery } from '../auth/query-check.ts';
import { checkQuotedValue, envWithin, scopeClauses, servicesWithin, type Scope } from '../auth/scope.ts';
import { allOf, anyOf, group } from '../datadog/search-syntax.ts';
import { readSpansPage, SPANS_PAGE_MAX, spansSearchRequest, type SpanRecord } from '../datadog/spans.ts';
import { AppError, paramPath, type WrittenIn } from '../errors.ts';
import { isoMs } from '../time/instant.ts';
import type { AskedRange, TimeRange } from '../time/range.ts';
import type { UpstreamRequest } from '../upstream-call.ts';
import type { Answer, AnswerIO, AnswerQuery } from '../upstream/answer.ts';
import type { PagingResult } from '../upstream/paging.ts';
import type { CallContext } from '../upstream/types.ts';
import type { Warning } from '../warnings.ts';
import type { QueryDeps } from './deps.ts';
import { pagedSearch, searchPages, type PageSource } from './paged-search.ts';

/** Which spans: the filters the span search and the spans aggregate share. */
export interface SpanFilter {
  services: string[];
  query?: string | undefined;
  env?: string | undefined;
  operation?: string | undefined;
  resource?: string | undefined;
  status?: 'ok' | 'error' | undefined;
}

/** `GET /traces`: span search. */
export interface SpanSearchParams extends SpanFilter {
  /** Span tags that must match exactly (the Tinkr route's `tags`), keys already checked. */
  tags?: Readonly<Record<string, string>> | undefined;
  time: AskedRange;
  limit: number;
  sort: 'asc' | 'desc';
  cursor?: string | undefined;
  /** Where the caller wrote these parameters, for the paths of errors about them. */
  writtenIn?: WrittenIn | undefined;
}

export function composeSpansQuery(params: Omit<SpanSearchParams, 'time' | 'limit' | 'sort' | 'cursor'>, scope: Scope): string {
  const path = (name: string) => paramPath(name, params.writtenIn);
  const query = validQuery(params.query, path('query'), scope);
  const services = servicesWithin(params.services, scope);
  const env = envWithin(params.env, scope);
  if (params.operation !== undefined) checkQuotedValue(path('operation'), params.operation, scope);
  if (params.resource !== undefined) checkQuotedValue(path('resource'), params.resource, scope);
  const tags = Object.entries(params.tags ?? {});
  for (const [key, value] of tags) {
    checkQuotedValue(path(`tags.${key}`), value, scope);
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

/** Where a span search of a composed query reads its pages. */
export function spanSource(query: string, sort: 'asc' | 'desc'): PageSource<SpanRecord> {
  return { pageMax: SPANS_PAGE_MAX, request: spansRequest(query, sort), read: readSpansPage };
}

/** The engine query of a span search (`GET /traces`). */
export function spansQuery(params: SpanSearchParams, scope: Scope, deps: QueryDeps): AnswerQuery {
  const query = composeSpansQuery(params, scope);
  return pagedSearch(
    {
      kind: 'spans',
      route: 'traces',
      query,
      parameters: { sort: params.sort },
      time: params.time,
      cursor: params.cursor,
      limit: params.limit,
      maxRangeMs: deps.maxRangeMs.traces,
      ...spanSource(query, params.sort),
    },
    deps,
  );
}

/** `GET /traces`: the finished answer. */
export function searchSpans(params: SpanSearchParams, scope: Scope, deps: QueryDeps, ctx: CallContext): Promise<Answer> {
  return deps.engine.answer(spansQuery(params, scope, deps), ctx);
}

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
  meta: { partial: boolean; warnings: Warning[]; bucket_s: number };
}

/**
 * Where every span of several traces is read from: one search on `trace_id:(a OR b ...)` within
 * the key's scope, oldest first. The scope is checked here, before anything is asked.
 */
export function traceSpansSource(traceIds: readonly string[], scope: Scope): PageSource<SpanRecord> & { query: string } {
  const services = servicesWithin([], scope);
  const query = allOf([...scopeClauses(services, envWithin(undefined, scope)), anyOf('trace_id', traceIds)]);
  return { query, ...spanSource(query, 'asc'), maxPages: Math.ceil(MAX_TRACE_SPANS / SPANS_PAGE_MAX) };
}

/** The spans of `source` over `range`, up to MAX_TRACE_SPANS, inside an answer's produce. */
export function readTraceSpans(source: PageSource<SpanRecord>, range: TimeRange, io: AnswerIO): Promise<PagingResult<SpanRecord>> {
  return searchPages(source, range, io, MAX_TRACE_SPANS, Math.ceil(MAX_TRACE_SPANS / SPANS_PAGE_MAX));
}

/** The engine query of `GET /traces/{trace_id}`: the whole trace, or NOT_FOUND (never cached). */
export function traceQuery(traceId: string, time: AskedRange, scope: Scope, deps: QueryDeps): AnswerQuery {
  const source = traceSpansSource([traceId], scope);
  return {
    family: 'spans',
    route: 'trace',
    identity: [source.query],
    time,
    maxRangeMs: deps.maxRangeMs.traces,
    // A page: most traces are far smaller, and a runaway one stops at MAX_TRACE_SPANS anyway.
    weight: SPANS_PAGE_MAX,
    async produce(range, io) {
      const found = await readTraceSpans(source, range, io);
      if (found.items.length === 0) {
        throw new AppError('NOT_FOUND', `no span of trace ${traceId} in ${isoMs(range.fromMs)} – ${isoMs(range.toMs)}`);
      }
      const warnings = [...found.warnings];
      let partial = found.partial;
      if (found.after) {
        partial = true;
        warnings.push({ code: 'span_cap', message: `the trace has more than ${MAX_TRACE_SPANS} spans; only the first are shown` });
      }
      const trace: Trace = { ...summarize(traceId, found.items), meta: { partial, warnings, bucket_s: range.stepMs / 1000 } };
      return trace;
    },
  };
}

/** `GET /traces/{trace_id}`: the finished answer. */
export function getTrace(traceId: string, time: AskedRange, scope: Scope, deps: QueryDeps, ctx: CallContext): Promise<Answer> {
  return deps.engine.answer(traceQuery(traceId, time, scope, deps), ctx);
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
