import type { Scope } from '../auth/scope.ts';
import {
  logsAggregateRequest,
  readLogsAggregate,
  readSpansAggregate,
  spansAggregateRequest,
  type AggregateAnswer,
  type AggregateQuery,
  type Compute,
  type FacetValue,
} from '../datadog/aggregate.ts';
import type { Level } from '../datadog/levels.ts';
import type { StorageTier } from '../datadog/logs.ts';
import { badRequest } from '../errors.ts';
import { formatDuration } from '../time/duration.ts';
import { isoMs } from '../time/instant.ts';
import type { AskedRange, TimeRange } from '../time/range.ts';
import type { UpstreamRequest } from '../upstream-call.ts';
import type { Answer, AnswerIO, AnswerQuery } from '../upstream/answer.ts';
import type { CallContext } from '../upstream/types.ts';
import type { Warning } from '../warnings.ts';
import { bucketGrid, MAX_BUCKETS, MAX_POINTS } from './aggregate-grid.ts';
import type { QueryDeps } from './deps.ts';
import { composeLogsQuery } from './logs.ts';
import { composeSpansQuery, type SpanFilter } from './traces.ts';

/**
 * `GET /logs/aggregate` and `GET /traces/aggregate`
 * (docs/analytics.md#get-logsaggregate-and-get-tracesaggregate): one panel, one upstream aggregate
 * call, an engine answer like every query (scope in the filter, time buckets, the finished-answer
 * cache, coalescing, budget gate). The answer is Datadog's numbers as sent, reshaped: one item per
 * group, largest value first, and with an interval every bucket of the range (Datadog leaves empty
 * buckets out: 0 for a count, null for any other compute).
 */

export interface PanelParams {
  compute: Compute;
  /** The `compute` parameter as given, echoed in `meta.compute`. */
  computeText: string;
  groupBy: string[];
  limit: number;
  intervalMs?: number | undefined;
}

/** A panel a route asks for: its parameters and the range they cover. */
export type Asked<T extends PanelParams> = T & { time: AskedRange };

export interface LogsPanelParams extends PanelParams {
  services: string[];
  levels: Level[];
  query?: string | undefined;
  storageTier?: StorageTier | undefined;
  indexes?: string[] | undefined;
}

export interface SpansPanelParams extends PanelParams, SpanFilter {}

export interface AggregateItem {
  group: Record<string, FacetValue>;
  tags: string[];
  value: number | null;
  points?: Array<[number, number | null]>;
}

/**
 * The body of `GET /logs/aggregate` and `GET /traces/aggregate`
 * (docs/analytics.md#get-logsaggregate-and-get-tracesaggregate).
 */
export interface AggregateBody {
  data: AggregateItem[];
  meta: { from: string; to: string; compute: string; interval_s: number | null; partial: boolean; warnings: Warning[]; bucket_s: number };
}

/** Most groups one answer may hold (Datadog's own bound on the product of the facets' limits). */
export const MAX_GROUPS = 10_000;

/** One panel's upstream call: the aggregate request of a range, and how its answer reads. */
export interface PanelSource {
  params: PanelParams;
  /** The composed Datadog query and the parameters that define the panel, for the cache key. */
  identity: unknown[];
  build(q: Omit<AggregateQuery, 'query'>): UpstreamRequest;
  read(body: unknown): AggregateAnswer;
}

/** A logs panel confined to the key's scope (403 at once when it asks outside it). */
export function logsPanel(params: LogsPanelParams, scope: Scope): PanelSource {
  const query = composeLogsQuery(params, scope);
  return {
    params,
    identity: [query, params.indexes ?? null, params.storageTier ?? null],
    build: (q) => logsAggregateRequest({ ...q, query, indexes: params.indexes, storageTier: params.storageTier }),
    read: readLogsAggregate,
  };
}

export function spansPanel(params: SpansPanelParams, scope: Scope): PanelSource {
  const query = composeSpansQuery(params, scope);
  return { params, identity: [query], build: (q) => spansAggregateRequest({ ...q, query }), read: readSpansAggregate };
}

/**
 * The engine query of one panel: one aggregate call over the caller's range. `route` and
 * `render` let Tinkr's SLO shape the same panel its own way (`renderedWith`: what else its
 * rendering depends on, part of the answer's identity).
 */
export function panelQuery(
  family: 'logs_aggregate' | 'spans_aggregate',
  panel: PanelSource,
  time: AskedRange,
  deps: QueryDeps,
  as: { route: string; render: (body: AggregateBody) => unknown; renderedWith?: unknown[] },
): AnswerQuery {
  const p = panel.params;
  return {
    family,
    route: as.route,
    identity: [...panel.identity, p.compute, p.computeText, p.groupBy, p.limit, p.intervalMs ?? null, ...(as.renderedWith ?? [])],
    time,
    maxRangeMs: family === 'logs_aggregate' ? deps.maxRangeMs.logs : deps.maxRangeMs.traces,
    async produce(range, io) {
      return as.render(await readPanel(panel, range, io));
    },
  };
}

const native = (route: string) => ({ route, render: (body: AggregateBody) => body });

/** `GET /logs/aggregate`: the finished answer. */
export function aggregateLogs(params: Asked<LogsPanelParams>, scope: Scope, deps: QueryDeps, ctx: CallContext): Promise<Answer> {
  return deps.engine.answer(panelQuery('logs_aggregate', logsPanel(params, scope), params.time, deps, native('logs.aggregate')), ctx);
}

/** `GET /traces/aggregate`: the finished answer. */
export function aggregateSpans(params: Asked<SpansPanelParams>, scope: Scope, deps: QueryDeps, ctx: CallContext): Promise<Answer> {
  return deps.engine.answer(panelQuery('spans_aggregate', spansPanel(params, scope), params.time, deps, native('traces.aggregate')), ctx);
}

/** Checks what depends on more than one parameter; each a 400 before anything is sent. */
export function checkPanelShape(params: PanelParams, range: Pick<TimeRange, 'fromMs' | 'toMs'>): void {
  const groups = params.limit ** params.groupBy.length;
  if (groups > MAX_GROUPS) {
    const most = Math.floor(MAX_GROUPS ** (1 / params.groupBy.length) + 1e-9);
    throw badRequest('limit', `with ${params.groupBy.length} facets the groups (limit to the power of the facets) may not exceed ${MAX_GROUPS}: limit at most ${most}`);
  }
  if (params.intervalMs === undefined) return;
  const buckets = bucketGrid(range.fromMs, range.toMs, params.intervalMs).count;
  if (buckets > MAX_BUCKETS) {
    const finest = Math.ceil((range.toMs - range.fromMs) / (MAX_BUCKETS - 1) / 1000) * 1000;
    throw badRequest('interval', `${formatDuration(params.intervalMs)} makes ${buckets} buckets over this range; at most ${MAX_BUCKETS}: use ${formatDuration(finest)} or longer`);
  }
  if (groups * buckets > MAX_POINTS) {
    throw badRequest('interval', `up to ${groups} groups × ${buckets} buckets is more than ${MAX_POINTS} points; lower limit or use a longer interval`);
  }
}

/** One panel inside an answer's produce: the shape checked (400 before anything is sent), one call, the answer reshaped. */
export async function readPanel(panel: PanelSource, range: TimeRange, io: AnswerIO): Promise<AggregateBody> {
  const params = panel.params;
  checkPanelShape(params, range);
  const shape = { compute: params.compute, groupBy: params.groupBy, limit: params.limit, intervalMs: params.intervalMs };
  const reply = await io.fetch(panel.build({ ...shape, fromMs: range.fromMs, toMs: range.toMs }));
  const answer = panel.read(reply.body);
  const warnings = [...answer.warnings];
  if (answer.timedOut) warnings.push({ code: 'upstream_timeout', message: 'Datadog stopped the aggregation early (status "timeout"); values may be too small' });
  return {
    data: itemsOf(answer, params, range.fromMs, range.toMs),
    meta: {
      from: isoMs(range.fromMs),
      to: isoMs(range.toMs),
      compute: params.computeText,
      interval_s: params.intervalMs === undefined ? null : params.intervalMs / 1000,
      partial: answer.timedOut,
      warnings,
      bucket_s: range.stepMs / 1000,
    },
  };
}

function itemsOf(answer: AggregateAnswer, params: PanelParams, fromMs: number, toMs: number): AggregateItem[] {
  const isCount = params.compute.aggregation === 'count';
  const empty = isCount ? 0 : null;
  const grid = params.intervalMs === undefined ? undefined : bucketGrid(fromMs, toMs, params.intervalMs);
  const item = (group: Record<string, FacetValue>, total: number | null, points: Array<[number, number]>): AggregateItem => {
    const out: AggregateItem = {
      group,
      tags: Object.entries(group).map(([facet, value]) => `${facet}:${String(value)}`),
      value: total ?? empty,
    };
    if (grid) out.points = grid.fill(points, empty, isCount);
    return out;
  };
  if (params.groupBy.length === 0) {
    const only = answer.groups[0];
    return [item({}, only?.total ?? null, only?.points ?? [])];
  }
  const items = answer.groups
    // A group without a value for one of our facets is not one of ours.
    .filter((g) => params.groupBy.every((facet) => g.by[facet] !== undefined))
    .map((g) => item(Object.fromEntries(params.groupBy.map((facet) => [facet, g.by[facet]!])), g.total, g.points));
  return items.sort(byValue);
}

/** Largest value first; groups without a value last; ties by their tags, so the order is stable. */
function byValue(a: AggregateItem, b: AggregateItem): number {
  if (a.value !== b.value) {
    if (a.value === null) return 1;
    if (b.value === null) return -1;
    return b.value - a.value;
  }
  const x = a.tags.join('\u0000');
  const y = b.tags.join('\u0000');
  return x < y ? -1 : x > y ? 1 : 0;
}
