import { metricQueryOutsideScope } from '../datadog/metric-scope.ts';
import { buildMetricQuery, metricsQueryRequest, readMetrics, type Aggregation, type SeriesRecord } from '../datadog/metrics.ts';
import { AppError } from '../errors.ts';
import { isoMs } from '../time/instant.ts';
import { resolveRange, type TimeParams } from '../time/range.ts';
import type { CacheStatus, CallContext } from '../upstream/types.ts';
import { withWindow } from '../upstream/window.ts';
import { DEFAULT_SPAN_MS, type QueryDeps } from './deps.ts';
import { servicesWithin, type Scope } from './scope.ts';

/** `GET /metrics`: either a raw Datadog query or a metric built from parts (validated by the route). */
export type MetricsParams =
  | { kind: 'raw'; query: string; time: TimeParams }
  | { kind: 'built'; metric: string; service?: string | undefined; aggregation: Aggregation; groupBy: string[]; time: TimeParams };

export interface MetricsResult {
  series: SeriesRecord[];
  meta: { from: string; to: string; query: string; partial: boolean; warnings: Array<{ code: string; message: string }>; bucket_s: number };
  cache: CacheStatus;
  /** When Datadog gave this answer (epoch ms); the `Age` header. */
  fetchedAt: number;
}

/** The query sent upstream for these parameters, confined to the key's scope. */
export function metricsQueryFor(params: MetricsParams, scope: Scope): string {
  if (params.kind === 'raw') {
    const outside = metricQueryOutsideScope(params.query, scope);
    if (outside !== undefined) {
      throw new AppError('FORBIDDEN', `the raw metric query cannot be proven to stay inside this key's scope: ${outside}`);
    }
    return params.query;
  }
  let service = params.service;
  if (scope.services) {
    if (service === undefined) {
      if (scope.services.length !== 1) {
        throw new AppError('FORBIDDEN', 'this key is scoped to several services; name one with service');
      }
      service = scope.services[0];
    } else {
      servicesWithin([service], scope);
    }
  }
  const filters = [service !== undefined ? `service:${service}` : undefined, scope.env !== undefined ? `env:${scope.env}` : undefined];
  return buildMetricQuery({
    metric: params.metric,
    filters: filters.filter((f): f is string => f !== undefined),
    aggregation: params.aggregation,
    groupBy: params.groupBy,
  });
}

export async function queryMetrics(params: MetricsParams, scope: Scope, deps: QueryDeps, ctx: CallContext): Promise<MetricsResult> {
  const query = metricsQueryFor(params, scope);
  const range = resolveRange(params.time, {
    nowMs: deps.clock.now(),
    defaultSpanMs: DEFAULT_SPAN_MS,
    maxRangeMs: deps.maxRangeMs.metrics,
    steps: deps.steps,
  });
  const reply = await deps.upstream.send(withWindow(range, (r) => metricsQueryRequest(query, r.fromMs, r.toMs)), ctx);
  return {
    series: readMetrics(reply.body),
    meta: {
      // A stale answer from an earlier bucket covers that bucket's range.
      from: isoMs(reply.window?.fromMs ?? range.fromMs),
      to: isoMs(reply.window?.toMs ?? range.toMs),
      query,
      partial: false,
      warnings: reply.warnings ?? [],
      bucket_s: range.stepMs / 1000,
    },
    cache: reply.cache,
    fetchedAt: reply.fetchedAt,
  };
}
