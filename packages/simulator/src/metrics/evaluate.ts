import { UNITS, findMetric, isGap, type MetricDef, type SeriesDef } from './series.ts';
import { parseMetricQueries, scopeText, type MetricQuery, type ScopeItem } from './query.ts';
import type { MetricSeries, MetricsQueryResponse } from '../wire.ts';

/**
 * Answers a metric query the way `GET /api/v1/query` does: series filtered by scope, grouped by
 * tags, time-aggregated into an interval that grows with the range, space-aggregated by the
 * query's aggregator, with `[ms, value | null]` points in ascending time.
 */

/** Metrics are kept 15 months, as in Datadog; older points do not exist. */
export const METRICS_RETENTION_MS = 455 * 86_400_000;
/** Most points one series may hold; longer ranges get a coarser interval. */
export const MAX_POINTS_PER_SERIES = 1_500;
/** Values keep 4 decimals: stable JSON across platforms, still realistic-looking floats. */
const VALUE_SCALE = 10_000;
/** The interval the synthetic agents report at; the unit of `.rollup(count)`. */
const NATIVE_INTERVAL_S = 10;

/** Datadog's default rollup interval (seconds) for a query range. */
export function defaultIntervalS(rangeS: number): number {
  if (rangeS <= 3_600) return 20;
  if (rangeS <= 4 * 3_600) return 60;
  if (rangeS <= 86_400) return 300;
  if (rangeS <= 7 * 86_400) return 3_600;
  return 14_400;
}

export function chooseIntervalS(rangeS: number, rollupS: number | undefined): number {
  return Math.max(defaultIntervalS(rangeS), rollupS ?? 0, Math.ceil(rangeS / MAX_POINTS_PER_SERIES));
}

/** Throws MetricQueryError when the query does not parse. */
export function queryMetrics(input: string, fromS: number, toS: number, nowMs: number): MetricsQueryResponse {
  const queries = parseMetricQueries(input);
  const series = queries.flatMap((q, index) => evaluate(q, index, fromS, toS, nowMs));
  return {
    status: 'ok',
    res_type: 'time_series',
    query: input,
    from_date: fromS * 1000,
    to_date: toS * 1000,
    group_by: [...new Set(queries.flatMap((q) => q.groupBy))],
    series,
    message: '',
  };
}

function tagMatches(item: ScopeItem, tags: readonly string[]): boolean {
  if (!item.tag.includes('*')) return tags.includes(item.tag);
  const regex = new RegExp(`^${item.tag.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
  return tags.some((t) => regex.test(t));
}

function inScope(series: SeriesDef, scope: readonly ScopeItem[]): boolean {
  return scope.every((item) => tagMatches(item, series.tags) !== item.negated);
}

function evaluate(q: MetricQuery, queryIndex: number, fromS: number, toS: number, nowMs: number): MetricSeries[] {
  const metric = findMetric(q.metric);
  if (!metric) return [];
  const matching = metric.series.filter((s) => inScope(s, q.scope));
  const groups = new Map<string, { tagSet: string[]; members: SeriesDef[] }>();
  for (const s of matching) {
    const values = q.groupBy.map((key) => s.tagMap[key]);
    if (values.some((v) => v === undefined)) continue;
    const tagSet = q.groupBy.map((key, i) => `${key}:${values[i]}`);
    const id = tagSet.join(',');
    const group = groups.get(id) ?? { tagSet, members: [] };
    group.members.push(s);
    groups.set(id, group);
  }
  const intervalS = chooseIntervalS(toS - fromS, q.rollup?.seconds);
  const stepMs = intervalS * 1000;
  const firstMs = Math.ceil(Math.max(fromS * 1000, nowMs - METRICS_RETENTION_MS) / stepMs) * stepMs;
  const lastMs = Math.min(toS * 1000, nowMs);
  const times: number[] = [];
  for (let t = firstMs; t <= lastMs; t += stepMs) times.push(t);
  if (times.length === 0) return [];

  const perUnit = metric.kind === 'count' && q.asRate ? UNITS.second : null;
  return [...groups.values()]
    .sort((a, b) => (a.tagSet.join(',') < b.tagSet.join(',') ? -1 : 1))
    .map(({ tagSet, members }) => {
      const pointlist: Array<[number, number | null]> = times.map((t) => {
        const value = isGap(metric, t, intervalS) ? null : spaceAggregate(q, members.map((s) => pointValue(metric, q, s, t, intervalS)));
        return [t, value === null && q.fillZero ? 0 : value];
      });
      const scope = scopeText([...q.scope, ...tagSet.map((tag) => ({ tag, negated: false }))]);
      return {
        metric: metric.name,
        display_name: metric.name,
        expression: `${q.aggregator}:${metric.name}{${scope}}${q.suffix}`,
        scope,
        tag_set: tagSet,
        aggr: q.aggregator,
        start: times[0]!,
        end: times[times.length - 1]! + stepMs - 1,
        length: times.length,
        interval: intervalS,
        pointlist,
        unit: [metric.unit, perUnit],
        query_index: queryIndex,
      };
    });
}

/** One series' value over the interval starting at `ms`, after time aggregation. */
function pointValue(metric: MetricDef, q: MetricQuery, series: SeriesDef, ms: number, intervalS: number): number {
  const level = metric.level(series, ms, intervalS);
  const method = q.rollup?.method;
  if (method === 'count') return intervalS / NATIVE_INTERVAL_S;
  const spread = method === 'min' ? 0.8 : method === 'max' ? 1.25 : 1;
  if (metric.kind === 'count') {
    // Counts are totals per interval unless asked as a per-second rate.
    return q.asRate ? level * spread : Math.round(level * intervalS * spread);
  }
  return method === 'sum' ? level * (intervalS / NATIVE_INTERVAL_S) : level * spread;
}

function spaceAggregate(q: MetricQuery, values: number[]): number | null {
  if (values.length === 0) return null;
  let out: number;
  switch (q.aggregator) {
    case 'sum':
      out = values.reduce((a, b) => a + b, 0);
      break;
    case 'min':
      out = Math.min(...values);
      break;
    case 'max':
      out = Math.max(...values);
      break;
    default:
      out = values.reduce((a, b) => a + b, 0) / values.length;
  }
  return Math.round(out * VALUE_SCALE) / VALUE_SCALE;
}
