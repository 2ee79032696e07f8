import { scan } from '../data/scan.ts';
import type { SearchTarget } from '../search/evaluate.ts';
import type { Timed } from '../wire.ts';
import { Accumulator, needsOf, scalarKey, type Needs } from './measure.ts';
import type { ComputeSpec, GroupBySpec, SortSpec } from './request.ts';

/**
 * The aggregation engine behind both analytics endpoints and their ground truth: one pass over
 * the events of a range, grouped by up to four facets, then Datadog's nested top lists.
 *
 * - An event joins the group of each value it has for each facet (a tag list can hold several);
 *   an event without a facet is left out, unless the group-by names a `missing` value.
 * - Groups are chosen level by level: the first facet's `limit` groups by its `sort` (measure
 *   or alphabetical; groups without a value for the measure come last, ties alphabetical),
 *   then within each of those the next facet's, and so on. Buckets come out in that order.
 * - `timeseries` computes bucket events by `floor(ms / interval) · interval` (epoch aligned, as
 *   Datadog's are) and list only the buckets holding events, ascending.
 */

/** A compute with its timeseries interval resolved. */
export interface ResolvedCompute extends ComputeSpec {
  intervalMs: number | undefined;
}

export type FacetValue = string | number | boolean;
export type BucketValue = number | Array<{ time: string; value: number }>;

export interface AggregateBucket {
  by: Record<string, FacetValue>;
  /** `c0`, `c1`, ... in the order of the computes; a compute without a value is left out. */
  computes: Record<string, BucketValue>;
}

export interface AggregateSource<T> {
  /** The range to aggregate, half-open, already narrowed to where the data lives. */
  fromMs: number;
  toMs: number;
  eventsInSlot(slot: number): Timed<T>[];
  target(event: T): SearchTarget;
  accept(target: SearchTarget): boolean;
}

/** Points a timeseries may have: as many as the gateway allows a panel (DESIGN §8.1). */
export const MAX_TIMESERIES_POINTS = 1_500;
/** Without an interval Datadog aims at about this many points. */
const DEFAULT_POINTS = 150;
/** Groups kept while scanning: a facet with unique values per event (trace ids) over weeks. */
export const MAX_GROUPS = 200_000;

const INTERVAL = /^(\d{1,9})(ms|s|m|h|d|w)$/;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** The timeseries interval of each compute, or a message naming a bad or too fine one. */
export function resolveIntervals(computes: readonly ComputeSpec[], fromMs: number, toMs: number, prefix: string): ResolvedCompute[] | string {
  const out: ResolvedCompute[] = [];
  for (const [i, compute] of computes.entries()) {
    if (compute.type !== 'timeseries') {
      out.push({ ...compute, intervalMs: undefined });
      continue;
    }
    let intervalMs: number;
    if (compute.interval === undefined) {
      intervalMs = Math.max(1_000, Math.ceil((toMs - fromMs) / DEFAULT_POINTS / 1_000) * 1_000);
    } else {
      const match = INTERVAL.exec(compute.interval);
      if (!match || Number(match[1]) === 0) return `${prefix}compute[${i}].interval "${compute.interval}" is not a duration such as 30s, 5m or 1h`;
      intervalMs = Number(match[1]) * UNIT_MS[match[2]!]!;
    }
    const points = Math.ceil(toMs / intervalMs) - Math.floor(fromMs / intervalMs);
    if (points > MAX_TIMESERIES_POINTS) {
      return `${prefix}compute[${i}].interval is too fine: ${points} buckets over this range; at most ${MAX_TIMESERIES_POINTS}`;
    }
    out.push({ ...compute, intervalMs });
  }
  return out;
}

interface GroupNode {
  value: FacetValue;
  key: string;
  acc: Accumulator;
  children: Map<string, GroupNode>;
  /** Per timeseries compute (leaves only): bucket start → what the bucket saw. */
  series: Array<Map<number, Accumulator>> | undefined;
}

export function aggregate<T>(computes: readonly ResolvedCompute[], groupBy: readonly GroupBySpec[], source: AggregateSource<T>): AggregateBucket[] | string {
  const needs = needsOf([...computes, ...groupBy.map((g) => g.sort)]);
  const root = newNode(computes, groupBy.length === 0);
  let groups = 0;

  for (const { ms, event } of scan({
    fromMs: source.fromMs,
    toMs: source.toMs,
    descending: false,
    eventsInSlot: (slot) => source.eventsInSlot(slot),
    accept: (event) => source.accept(source.target(event)),
  })) {
    const target = source.target(event);
    const values = groupBy.map((g) => facetValues(target, g));
    if (values.some((v) => v.length === 0)) continue;
    const place = (node: GroupNode, level: number): void => {
      node.acc.add(target, needs);
      if (level === groupBy.length) {
        addToSeries(node, computes, ms, target, needs);
        return;
      }
      for (const value of values[level]!) {
        const key = scalarKey(value)!;
        let child = node.children.get(key);
        if (!child) {
          if (++groups > MAX_GROUPS) return;
          child = newNode(computes, level + 1 === groupBy.length, value, key);
          node.children.set(key, child);
        }
        place(child, level + 1);
      }
    };
    place(root, 0);
    if (groups > MAX_GROUPS) return `the query has more than ${MAX_GROUPS} groups; group by fewer or coarser facets`;
  }

  // No group-by and nothing matched: Datadog answers with no bucket at all.
  if (groupBy.length === 0 && root.acc.count === 0) return [];
  const buckets: AggregateBucket[] = [];
  const emit = (node: GroupNode, level: number, by: Record<string, FacetValue>): void => {
    if (level === groupBy.length) {
      buckets.push({ by, computes: computesOf(node, computes) });
      return;
    }
    const spec = groupBy[level]!;
    for (const child of selectChildren(node, spec)) emit(child, level + 1, { ...by, [spec.facet]: child.value });
  };
  emit(root, 0, {});
  return buckets;
}

/** A group; the root (no facet value) holds every event that had all the facets. */
function newNode(computes: readonly ResolvedCompute[], leaf: boolean, value: FacetValue = '', key = ''): GroupNode {
  return {
    value,
    key,
    acc: new Accumulator(),
    children: new Map(),
    series: leaf ? computes.map(() => new Map<number, Accumulator>()) : undefined,
  };
}

function facetValues(target: SearchTarget, group: GroupBySpec): FacetValue[] {
  const seen = new Map<string, FacetValue>();
  for (const value of target.values(group.facet)) {
    const key = scalarKey(value);
    if (key !== undefined && !seen.has(key)) seen.set(key, value as FacetValue);
  }
  if (seen.size === 0 && group.missing !== undefined) return [group.missing];
  return [...seen.values()];
}

function addToSeries(node: GroupNode, computes: readonly ResolvedCompute[], ms: number, target: SearchTarget, needs: Needs): void {
  computes.forEach((compute, i) => {
    if (compute.intervalMs === undefined) return;
    const start = Math.floor(ms / compute.intervalMs) * compute.intervalMs;
    const buckets = node.series![i]!;
    let acc = buckets.get(start);
    if (!acc) buckets.set(start, (acc = new Accumulator()));
    acc.add(target, needs);
  });
}

function computesOf(node: GroupNode, computes: readonly ResolvedCompute[]): Record<string, BucketValue> {
  const out: Record<string, BucketValue> = {};
  computes.forEach((compute, i) => {
    if (compute.intervalMs === undefined) {
      const value = node.acc.value(compute.aggregation, compute.metric);
      if (value !== undefined) out[`c${i}`] = value;
      return;
    }
    const points: Array<{ time: string; value: number }> = [];
    for (const [start, acc] of [...node.series![i]!.entries()].sort((a, b) => a[0] - b[0])) {
      const value = acc.value(compute.aggregation, compute.metric);
      if (value !== undefined) points.push({ time: new Date(start).toISOString(), value });
    }
    out[`c${i}`] = points;
  });
  return out;
}

function selectChildren(node: GroupNode, spec: GroupBySpec): GroupNode[] {
  const children = [...node.children.values()];
  const measure = (n: GroupNode) => n.acc.value(spec.sort.aggregation, spec.sort.metric);
  const cached = new Map(children.map((n) => [n, spec.sort.type === 'measure' ? measure(n) : undefined]));
  children.sort((a, b) => compareGroups(a, b, spec.sort, cached));
  return children.slice(0, spec.limit);
}

function compareGroups(a: GroupNode, b: GroupNode, sort: SortSpec, measures: Map<GroupNode, number | undefined>): number {
  const sign = sort.order === 'asc' ? 1 : -1;
  if (sort.type === 'measure') {
    const x = measures.get(a);
    const y = measures.get(b);
    if (x !== y) {
      if (x === undefined) return 1;
      if (y === undefined) return -1;
      return sign * (x - y);
    }
    return compareValues(a.value, b.value);
  }
  return sign * compareValues(a.value, b.value);
}

/** Numbers by value, anything else by its text. */
export function compareValues(a: FacetValue, b: FacetValue): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
