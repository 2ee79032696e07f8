import { AppError } from '../errors.ts';
import type { UpstreamRequest } from '../upstream-call.ts';
import { asObject, asString, asStringArray } from './shape.ts';

/** Metrics: our normalized query ↔ `GET /api/v1/query` (datadog-api.md §3). */

export const METRICS_QUERY_PATH = '/api/v1/query';
export const AGGREGATIONS = ['avg', 'sum', 'min', 'max'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

/** Datadog metric names: a letter, then letters, digits, `_` and `.`; at most 200 characters. */
export const METRIC_NAME = /^[A-Za-z][A-Za-z0-9_.]{0,199}$/;
/**
 * Tag keys and values we put into a scope ourselves. Scopes have no quoting, so anything that
 * could end a term (`,` `{` `}` space `!` `*` `:`) is refused instead of escaped.
 */
export const SCOPE_VALUE = /^[\p{L}\p{N}_\-./]{1,200}$/u;
export const TAG_KEY = /^[A-Za-z][A-Za-z0-9_\-./]{0,199}$/;

export interface BuiltMetricQuery {
  metric: string;
  /** `key:value` filters; values checked against SCOPE_VALUE by the caller. */
  filters: string[];
  aggregation: Aggregation;
  groupBy: string[];
}

/** `avg:trace.web.request.hits{service:payments-api} by {host}`. Inputs are validated by the route. */
export function buildMetricQuery(q: BuiltMetricQuery): string {
  const scope = q.filters.length > 0 ? q.filters.join(',') : '*';
  const by = q.groupBy.length > 0 ? ` by {${q.groupBy.join(',')}}` : '';
  return `${q.aggregation}:${q.metric}{${scope}}${by}`;
}

export function metricsQueryRequest(query: string, fromMs: number, toMs: number): UpstreamRequest {
  // v1 takes epoch SECONDS (a classic bug source: peers.md §5); widen to whole seconds.
  const from = Math.floor(fromMs / 1000);
  const to = Math.max(from + 1, Math.ceil(toMs / 1000));
  return { family: 'metrics', method: 'GET', path: METRICS_QUERY_PATH, query: { from: String(from), to: String(to), query } };
}

/** One series as callers see it (docs/http-api.md#get-metrics). */
export interface SeriesRecord {
  metric: string | null;
  expression: string | null;
  scope: string | null;
  tags: string[];
  unit: string | null;
  interval_s: number | null;
  points: Array<[number, number | null]>;
}

export function readMetrics(body: unknown): SeriesRecord[] {
  const root = asObject(body);
  if (root.status === 'error') {
    const message = asString(root.error) ?? 'the query failed';
    throw new AppError('UPSTREAM_BAD_QUERY', `Datadog rejected the metrics query: ${message.slice(0, 500)}`);
  }
  const series = root.series;
  if (series === undefined) return [];
  if (!Array.isArray(series)) throw new AppError('UPSTREAM_ERROR', "Datadog's metrics answer has an unexpected shape");
  return series.map(readSeries);
}

function readSeries(item: unknown): SeriesRecord {
  const s = asObject(item);
  const points = readPoints(s.pointlist);
  const scope = asString(s.scope) ?? null;
  const tags = seriesTags(scope, asStringArray(s.tag_set));
  const unit = Array.isArray(s.unit) ? asString(asObject(s.unit[0]).name) ?? null : null;
  return {
    metric: asString(s.metric) ?? null,
    expression: asString(s.expression) ?? null,
    scope,
    tags,
    unit,
    interval_s: intervalSeconds(points, s.interval),
    points,
  };
}

/**
 * Every tag of the series' scope, its filters and its groups alike (docs/http-api.md#get-metrics): for
 * `{env:prod} by {service}` Datadog's scope is `env:prod,service:checkout` while `tag_set` holds
 * only the group, `service:checkout`. A negated filter (`!env:staging`) is not a tag the series
 * has, so it is left out. Scope order first, then any group tag the scope did not repeat.
 */
function seriesTags(scope: string | null, tagSet: string[]): string[] {
  const fromScope = scope && scope !== '*' ? scope.split(',').map((t) => t.trim()) : [];
  return [...new Set([...fromScope, ...tagSet])].filter((t) => t !== '' && t !== '*' && !t.startsWith('!'));
}

function readPoints(value: unknown): Array<[number, number | null]> {
  if (!Array.isArray(value)) return [];
  const points: Array<[number, number | null]> = [];
  for (const p of value) {
    if (!Array.isArray(p) || typeof p[0] !== 'number' || !Number.isFinite(p[0])) continue;
    const v = p[1];
    points.push([Math.round(p[0]), typeof v === 'number' && Number.isFinite(v) ? v : null]);
  }
  return points.sort((a, b) => a[0] - b[0]);
}

/**
 * The spacing of points in seconds. Datadog documents `interval` in ms but sends seconds
 * (datadog-api.md §3), so the points themselves are trusted first.
 */
function intervalSeconds(points: Array<[number, number | null]>, interval: unknown): number | null {
  if (points.length >= 2) return Math.round((points[1]![0] - points[0]![0]) / 1000);
  return typeof interval === 'number' && interval > 0 ? interval : null;
}
