import { servicesWithin, type Scope } from '../auth/scope.ts';
import type { LogRecord } from '../datadog/logs.ts';
import type { SeriesRecord } from '../datadog/metrics.ts';
import { SPANS_PAGE_MAX, type SpanRecord } from '../datadog/spans.ts';
import type { QueryDeps } from '../signals/deps.ts';
import { logsQuery, type LogsParams } from '../signals/logs.ts';
import { metricsQuery, type MetricsQueryParts } from '../signals/metrics.ts';
import { searchPages, type SearchResult } from '../signals/paged-search.ts';
import { composeSpansQuery, readTraceSpans, spanSource, summarize, traceSpansSource } from '../signals/traces.ts';
import type { AskedRange } from '../time/range.ts';
import type { Answer } from '../upstream/answer.ts';
import type { CallContext } from '../upstream/types.ts';
import { liveWindow } from './live-window.ts';

/**
 * The Tinkr-compatible operations (docs/http-api.md#tinkr-compatible-routes): the same services as
 * the native routes, with Tinkr's field names and conventions (upper-case levels, "" for absent
 * ids, no nulls where the Tinkr CLI calls float()/int()).
 */

type LevelName = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'CRITICAL';

export interface TinkrLogEntry {
  timestamp: string;
  level: LevelName;
  message: string;
  service: string;
  trace_id: string;
  span_id: string;
  extra: Record<string, string>;
}

/** `POST /api/v1/logs` as its schema reads it (schemas/tinkr.ts). */
export interface TinkrLogsRequest {
  service: string;
  /** Datadog search syntax: Tinkr's level aliases already rewritten. */
  query: string;
  limit: number;
  time: AskedRange;
}

export async function tinkrLogs(body: TinkrLogsRequest, scope: Scope, deps: QueryDeps, ctx: CallContext): Promise<Answer> {
  // `tinkr tail` polls with end = its own now: ask for the bucket's panel, shared by every viewer.
  const live = liveWindow(body.time.from, body.time.to, { nowMs: deps.clock.now(), steps: deps.engine.steps, maxRangeMs: deps.maxRangeMs.logs });
  const time: AskedRange = live ? { ...body.time, from: { kind: 'absolute', ms: live.fromMs }, to: { kind: 'absolute', ms: live.toMs } } : body.time;
  const params: LogsParams = {
    services: [body.service],
    levels: [],
    query: body.query,
    time,
    limit: body.limit,
    sort: 'desc',
    writtenIn: 'body',
  };
  const render = (result: SearchResult<LogRecord>) => ({ entries: result.data.map((log) => tinkrLogEntry(log, body.service)) });
  const answer = await deps.engine.answer(logsQuery(params, scope, deps, { route: 'tinkr.logs', render }), ctx);
  return live ? entriesFrom(answer, live.keepFromMs) : answer;
}

/**
 * A tail poll's answer: the bucket's panel (one cached answer for every viewer of the bucket)
 * without the logs before this viewer's own `start`. Only this path reads an answer back.
 */
function entriesFrom(answer: Answer, fromMs: number): Answer {
  const { entries } = JSON.parse(answer.bytes.toString('utf8')) as { entries: TinkrLogEntry[] };
  const kept = entries.filter((entry) => entry.timestamp === '' || Date.parse(entry.timestamp) >= fromMs);
  return kept.length === entries.length ? answer : { ...answer, bytes: Buffer.from(JSON.stringify({ entries: kept }), 'utf8') };
}

function tinkrLogEntry(log: LogRecord, service: string): TinkrLogEntry {
  const extra: Record<string, string> = { id: log.id, tags: log.tags.join(', ') };
  if (log.host !== null) extra.host = log.host;
  if (log.status !== null) extra.status = log.status;
  return {
    timestamp: log.timestamp ?? '',
    level: log.level.toUpperCase() as LevelName,
    message: log.message ?? '',
    service: log.service ?? service,
    trace_id: log.trace_id ?? '',
    span_id: log.span_id ?? '',
    extra,
  };
}

export interface TinkrMetricPoint {
  timestamp: string;
  value: number;
  unit: string;
  dimensions: Record<string, string>;
}

/** `POST /api/v1/metrics` as its schema reads it: a metric name already scoped to the service, or a raw query. */
export interface TinkrMetricsRequest {
  service: string;
  metric: MetricsQueryParts;
  time: AskedRange;
}

export function tinkrMetrics(body: TinkrMetricsRequest, scope: Scope, deps: QueryDeps, ctx: CallContext): Promise<Answer> {
  // A raw query carries its own scope; the service the CLI names must still be the key's.
  if (body.metric.kind === 'raw') servicesWithin([body.service], scope);
  const params = { ...body.metric, time: body.time };
  return deps.engine.answer(metricsQuery(params, scope, deps, { route: 'tinkr.metrics', render: ({ series }) => ({ points: tinkrPoints(series) }) }), ctx);
}

function tinkrPoints(series: readonly SeriesRecord[]): TinkrMetricPoint[] {
  return series
    .flatMap((s) => {
      const dimensions = tagsObject(s.tags);
      return s.points.filter((p): p is [number, number] => p[1] !== null).map(([ms, value]) => ({ ms, value, unit: s.unit ?? '', dimensions }));
    })
    .sort((a, b) => a.ms - b.ms)
    .map(({ ms, ...point }) => ({ timestamp: new Date(ms).toISOString(), ...point }));
}

/** `["service:a", "env:prod"]` → `{service: "a", env: "prod"}`; a bare tag maps to "". */
export function tagsObject(tags: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const tag of tags) {
    const colon = tag.indexOf(':');
    if (colon < 0) out[tag] = '';
    else out[tag.slice(0, colon)] = tag.slice(colon + 1);
  }
  return out;
}

export interface TinkrSpan {
  span_id: string;
  parent_span_id: string;
  operation_name: string;
  service: string;
  start_time: string;
  duration_ms: number;
  status: 'ok' | 'error';
  tags: Record<string, string>;
}

export interface TinkrTrace {
  trace_id: string;
  service: string;
  operation_name: string;
  start_time: string;
  duration_ms: number;
  span_count: number;
  status: 'ok' | 'error';
  spans: TinkrSpan[];
}

/**
 * Spans read to find the newest traces of a service: one full upstream page. Spans search costs
 * from a 300-an-hour budget, so finding traces is one call and reading them is one more.
 */
export const TRACE_DISCOVERY_SPANS = 1000;

/** `POST /api/v1/traces` as its schema reads it: tag filters checked and sorted, `since` as a range. */
export interface TinkrTracesRequest {
  service: string;
  limit: number;
  tags: Record<string, string>;
  time: AskedRange;
}

export function tinkrTraces(body: TinkrTracesRequest, scope: Scope, deps: QueryDeps, ctx: CallContext): Promise<Answer> {
  const query = composeSpansQuery({ services: [body.service], tags: body.tags, writtenIn: 'body' }, scope);
  return deps.engine.answer(
    {
      family: 'spans',
      route: 'tinkr.traces',
      identity: [query, body.limit],
      time: body.time,
      maxRangeMs: deps.maxRangeMs.traces,
      // The page that finds the traces, then a page of their spans (`limit` traces are small).
      weight: TRACE_DISCOVERY_SPANS + SPANS_PAGE_MAX,
      // Two calls: the newest spans to find the traces, then every span of those traces.
      async produce(range, io) {
        const recent = await searchPages(spanSource(query, 'desc'), range, io, TRACE_DISCOVERY_SPANS, deps.maxPages);
        const traceIds = [...new Set(recent.items.map((s) => s.trace_id).filter((id) => id !== ''))].slice(0, body.limit);
        if (traceIds.length === 0) return { traces: [] };
        const spans = await readTraceSpans(traceSpansSource(traceIds, scope), range, io);
        const byTrace = new Map<string, SpanRecord[]>(traceIds.map((id) => [id, []]));
        for (const span of spans.items) byTrace.get(span.trace_id)?.push(span);
        const traces = traceIds.flatMap((id) => {
          const members = byTrace.get(id)!;
          return members.length > 0 ? [tinkrTrace(id, body.service, members)] : [];
        });
        return { traces };
      },
    },
    ctx,
  );
}

function tinkrTrace(traceId: string, service: string, members: SpanRecord[]): TinkrTrace {
  const summary = summarize(traceId, members);
  const root = summary.spans.find((s) => s.span_id === summary.root_span_id) ?? summary.spans[0]!;
  return {
    trace_id: traceId,
    service,
    operation_name: root.name ?? root.resource ?? '',
    start_time: summary.start ?? root.start ?? new Date(0).toISOString(),
    duration_ms: summary.duration_ms ?? 0,
    span_count: summary.span_count,
    status: summary.error_count > 0 ? 'error' : 'ok',
    spans: summary.spans.map((s) => ({
      span_id: s.span_id,
      parent_span_id: s.parent_id ?? '',
      operation_name: s.name ?? s.resource ?? '',
      service: s.service ?? '',
      start_time: s.start ?? summary.start ?? new Date(0).toISOString(),
      duration_ms: s.duration_ms ?? 0,
      status: s.status,
      tags: tagsObject(s.tags),
    })),
  };
}
