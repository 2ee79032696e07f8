import { servicesWithin, type Scope } from '../auth/scope.ts';
import { metricQueryOutsideScope } from '../datadog/metric-scope.ts';
import { buildMetricQuery, metricsQueryRequest, readMetrics, type Aggregation, type SeriesRecord } from '../datadog/metrics.ts';
import { AppError } from '../errors.ts';
import { isoMs } from '../time/instant.ts';
import type { AskedRange } from '../time/range.ts';
import type { Answer, AnswerQuery } from '../upstream/answer.ts';
import type { CallContext } from '../upstream/types.ts';
import type { Warning } from '../warnings.ts';
import type { QueryDeps } from './deps.ts';

/** What a metric query is made of: a raw Datadog query, or a metric built from parts. */
export type MetricsQueryParts =
  | { kind: 'raw'; query: string }
  | { kind: 'built'; metric: string; service?: string | undefined; aggregation: Aggregation; groupBy: string[] };

/** `GET /metrics` as its schema reads it (schemas/routes.ts): the query and the range. */
export type MetricsParams = MetricsQueryParts & { time: AskedRange };

/** The body of `GET /metrics` (docs/http-api.md#get-metrics). */
export interface MetricsBody {
  series: SeriesRecord[];
  meta: { from: string; to: string; query: string; partial: boolean; warnings: Warning[]; bucket_s: number };
}

/** The query sent upstream for these parameters, confined to the key's scope. */
export function metricsQueryFor(params: MetricsQueryParts, scope: Scope): string {
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

/**
 * The engine query of a metric: one Datadog call. `route` and `render` let the Tinkr route
 * shape the same series its own way (tinkr/operations.ts).
 */
export function metricsQuery(
  params: MetricsParams,
  scope: Scope,
  deps: QueryDeps,
  as: { route: string; render: (body: MetricsBody) => unknown } = { route: 'metrics', render: (body) => body },
): AnswerQuery {
  const query = metricsQueryFor(params, scope);
  return {
    family: 'metrics',
    route: as.route,
    identity: [query],
    time: params.time,
    maxRangeMs: deps.maxRangeMs.metrics,
    async produce(range, io) {
      const reply = await io.fetch(metricsQueryRequest(query, range.fromMs, range.toMs));
      return as.render({
        series: readMetrics(reply.body),
        meta: { from: isoMs(range.fromMs), to: isoMs(range.toMs), query, partial: false, warnings: [], bucket_s: range.stepMs / 1000 },
      });
    },
  };
}

/** `GET /metrics`: the finished answer. */
export function queryMetrics(params: MetricsParams, scope: Scope, deps: QueryDeps, ctx: CallContext): Promise<Answer> {
  return deps.engine.answer(metricsQuery(params, scope, deps), ctx);
}
