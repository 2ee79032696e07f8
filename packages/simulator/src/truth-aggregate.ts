import type { Clock } from './clock.ts';
import type { FacetValue } from './analytics/compute.ts';
import type { Aggregation, AggregateInput } from './analytics/request.ts';
import { runLogsAggregate, runSpansAggregate, type RunEnv } from './analytics/run.ts';
import type { SimData } from './data/source.ts';
import type { LogsStorageTier } from './wire.ts';

/**
 * Ground truth of the analytics endpoints for tests: a panel stated in the simulator's own
 * terms (a query, a range, one compute, top lists by that compute) and the answer the endpoint's
 * engine gives for it, computed from the generators without HTTP. Tests compare what the gateway
 * shows for a panel with this.
 */

export interface AggregateTruthQuery {
  query?: string;
  /** Epoch ms (or any `filter.from` expression). */
  from: number | string;
  to: number | string;
  /** Default `{aggregation: "count"}`. */
  compute?: { aggregation: Aggregation; metric?: string };
  /** Facets, each keeping its `limit` (default 10) top groups by the compute, largest first. */
  groupBy?: ReadonlyArray<{ facet: string; limit?: number }>;
  /** A timeseries of this bucket width besides the total. */
  intervalMs?: number;
  indexes?: readonly string[];
  storageTier?: LogsStorageTier;
}

export interface AggregateTruthGroup {
  by: Record<string, FacetValue>;
  /** The compute over the whole range; null when the group has nothing to measure. */
  value: number | null;
  /** `[bucket start ms, value]` of the buckets holding events, ascending (Datadog leaves empty ones out). */
  points: Array<[number, number]>;
}

export interface AggregateTruth {
  logsAggregate(query: AggregateTruthQuery): AggregateTruthGroup[];
  spansAggregate(query: AggregateTruthQuery): AggregateTruthGroup[];
}

export function createAggregateTruth(clock: Clock, data: SimData): AggregateTruth {
  const run = (q: AggregateTruthQuery, runner: typeof runLogsAggregate): AggregateTruthGroup[] => {
    const compute = q.compute ?? { aggregation: 'count' as const };
    const input: AggregateInput = {
      query: q.query ?? '*',
      from: String(q.from),
      to: String(q.to),
      indexes: [...(q.indexes ?? ['*'])],
      storageTier: q.storageTier ?? 'indexes',
      computes: [
        { aggregation: compute.aggregation, type: 'total', metric: compute.metric, interval: undefined },
        ...(q.intervalMs === undefined
          ? []
          : [{ aggregation: compute.aggregation, type: 'timeseries' as const, metric: compute.metric, interval: `${q.intervalMs}ms` }]),
      ],
      groupBy: (q.groupBy ?? []).map((g) => ({
        facet: g.facet,
        limit: g.limit ?? 10,
        missing: undefined,
        sort: { type: 'measure' as const, order: 'desc' as const, aggregation: compute.aggregation, metric: compute.metric },
      })),
    };
    const env: RunEnv = { nowMs: clock.now(), data, timedOut: false, remember: false };
    const result = runner(input, env);
    if (!result.ok) throw new TypeError(`truth: ${result.message}`);
    return result.buckets.map((bucket) => {
      const total = bucket.computes['c0'];
      const series = bucket.computes['c1'];
      return {
        by: bucket.by,
        value: typeof total === 'number' ? total : null,
        points: Array.isArray(series) ? series.map((p) => [Date.parse(p.time), p.value] as [number, number]) : [],
      };
    });
  };
  return {
    logsAggregate: (q) => run(q, runLogsAggregate),
    spansAggregate: (q) => run(q, runSpansAggregate),
  };
}
