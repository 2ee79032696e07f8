import { AppError } from '../errors.ts';
import { formatDuration } from '../time/duration.ts';
import type { UpstreamRequest } from '../upstream-call.ts';
import type { Warning } from '../warnings.ts';
import type { StorageTier } from './logs.ts';
import { asObject, readPageMeta, type Json } from './shape.ts';

/**
 * Analytics: our normalized panel ↔ `POST /api/v2/logs/analytics/aggregate` (`AggregateLogs`)
 * and `POST /api/v2/spans/analytics/aggregate` (`AggregateSpans`), datadog-api.md §4–§5.
 *
 * One panel is one call: compute `c0` is the `total` over the range and, with an interval,
 * compute `c1` the same aggregation as a `timeseries`. Every group-by facet keeps its top
 * `limit` groups by the panel's own compute, largest first (Datadog's default order is
 * alphabetical, which would keep the wrong groups).
 */

export const LOGS_AGGREGATE_PATH = '/api/v2/logs/analytics/aggregate';
export const SPANS_AGGREGATE_PATH = '/api/v2/spans/analytics/aggregate';

/** Datadog's aggregation functions; every one but `count` measures a field. */
export const AGGREGATION_FUNCTIONS = ['count', 'cardinality', 'avg', 'sum', 'min', 'max', 'median', 'pc75', 'pc90', 'pc95', 'pc98', 'pc99'] as const;
export type AggregationFunction = (typeof AGGREGATION_FUNCTIONS)[number];

/**
 * A facet: a reserved attribute or tag key (`status`, `service`, `kube_namespace`) or `@` and an
 * attribute path (`@http.status_code`). Nothing that could mean more to Datadog than a name:
 * no spaces, quotes, colons, wildcards or parentheses.
 */
export const FACET = /^(?:@[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*|[A-Za-z][A-Za-z0-9_.-]*)$/;
export const MAX_FACET_LENGTH = 100;

export interface Compute {
  aggregation: AggregationFunction;
  /** The measured field; absent for `count`. */
  metric?: string | undefined;
}

export interface AggregateQuery {
  /** Datadog search syntax, already composed, checked and scoped. */
  query: string;
  fromMs: number;
  toMs: number;
  compute: Compute;
  groupBy: readonly string[];
  /** Groups kept per facet. */
  limit: number;
  /** With it, a timeseries of this bucket width besides the total. */
  intervalMs?: number | undefined;
  /** Logs only. */
  indexes?: readonly string[] | undefined;
  storageTier?: StorageTier | undefined;
}

function aggregateParts(q: AggregateQuery): Json {
  const measured: Json = q.compute.metric === undefined ? {} : { metric: q.compute.metric };
  const compute: Json[] = [{ aggregation: q.compute.aggregation, type: 'total', ...measured }];
  if (q.intervalMs !== undefined) {
    compute.push({ aggregation: q.compute.aggregation, type: 'timeseries', interval: formatDuration(q.intervalMs), ...measured });
  }
  const sort: Json = { type: 'measure', aggregation: q.compute.aggregation, order: 'desc', ...measured };
  const groupBy = q.groupBy.map((facet) => ({ facet, limit: q.limit, sort }));
  return groupBy.length > 0 ? { compute, group_by: groupBy } : { compute };
}

function filterOf(q: AggregateQuery): Json {
  return { query: q.query, from: new Date(q.fromMs).toISOString(), to: new Date(q.toMs).toISOString() };
}

export function logsAggregateRequest(q: AggregateQuery): UpstreamRequest {
  const filter = filterOf(q);
  if (q.indexes && q.indexes.length > 0) filter.indexes = [...q.indexes];
  if (q.storageTier) filter.storage_tier = q.storageTier;
  return { family: 'logs_aggregate', method: 'POST', path: LOGS_AGGREGATE_PATH, body: { filter, ...aggregateParts(q) } };
}

export function spansAggregateRequest(q: AggregateQuery): UpstreamRequest {
  return {
    family: 'spans_aggregate',
    method: 'POST',
    path: SPANS_AGGREGATE_PATH,
    body: { data: { type: 'aggregate_request', attributes: { filter: filterOf(q), ...aggregateParts(q) } } },
  };
}

export type FacetValue = string | number | boolean;

/** One group of an aggregate answer. */
export interface AggregateGroup {
  /** Facet → value, in the answer's key order. */
  by: Record<string, FacetValue>;
  /** The total (`c0`); null when Datadog gave none (a measure with no value). */
  total: number | null;
  /** The timeseries (`c1`) as `[epoch_ms, value]`, as Datadog sent it (empty buckets left out). */
  points: Array<[number, number]>;
}

export interface AggregateAnswer {
  groups: AggregateGroup[];
  /** Datadog stopped early (`meta.status: "timeout"`): the numbers may be too small. */
  timedOut: boolean;
  warnings: Warning[];
}

export function readLogsAggregate(body: unknown): AggregateAnswer {
  const buckets = asObject(asObject(body).data).buckets;
  if (buckets !== undefined && !Array.isArray(buckets)) throw shapeError('logs aggregate');
  return readAnswer(body, (buckets ?? []).map((b) => asObject(b)));
}

export function readSpansAggregate(body: unknown): AggregateAnswer {
  const data = asObject(body).data;
  if (data !== undefined && !Array.isArray(data)) throw shapeError('spans aggregate');
  // Real answers carry `compute`, the spec says `computes`: read either.
  return readAnswer(
    body,
    (data ?? []).map((item) => {
      const a = asObject(asObject(item).attributes);
      return { by: a.by, computes: a.computes ?? a.compute };
    }),
  );
}

function readAnswer(body: unknown, buckets: Json[]): AggregateAnswer {
  const { timedOut, warnings } = readPageMeta(body);
  const groups = buckets.map((bucket) => {
    const computes = asObject(bucket.computes);
    return { by: readBy(bucket.by), total: scalar(computes.c0), points: readPoints(computes.c1) };
  });
  return { groups, timedOut, warnings };
}

function readBy(value: unknown): Record<string, FacetValue> {
  const out: Record<string, FacetValue> = {};
  for (const [facet, v] of Object.entries(asObject(value))) {
    if (typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) out[facet] = v;
    else if (v !== null && v !== undefined) out[facet] = JSON.stringify(v);
  }
  return out;
}

/** A number as sent; a numeric string (the spec allows string values) read as its number. */
function scalar(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

function readPoints(value: unknown): Array<[number, number]> {
  if (!Array.isArray(value)) return [];
  const points: Array<[number, number]> = [];
  for (const p of value) {
    const o = asObject(p);
    const time = typeof o.time === 'number' ? o.time : typeof o.time === 'string' ? (/^\d+$/.test(o.time) ? Number(o.time) : Date.parse(o.time)) : NaN;
    const v = scalar(o.value);
    if (Number.isFinite(time) && v !== null) points.push([time, v]);
  }
  return points;
}

function shapeError(what: string): AppError {
  return new AppError('UPSTREAM_ERROR', `Datadog's ${what} answer has an unexpected shape`);
}
