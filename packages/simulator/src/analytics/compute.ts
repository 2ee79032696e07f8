import { slotOf } from '../data/traces.ts';
import type { SearchTarget } from '../search/evaluate.ts';
import { Accumulator, needsOf, scalarKey, type Needs } from './measure.ts';
import type { ComputeSpec, GroupBySpec, SortSpec } from './request.ts';
import type { Row } from './rows.ts';

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

export interface AggregateSource {
  /** The range to aggregate, half-open, already narrowed to where the data lives. */
  fromMs: number;
  toMs: number;
  /** The events of a slot that match the query (the engine keeps those in [fromMs, toMs)). */
  rowsInSlot(slot: number): readonly Row[];
}

/** Every field a request reads: its facets and what its computes and sorts measure. */
export function fieldsOf(computes: readonly ComputeSpec[], groupBy: readonly GroupBySpec[]): string[] {
  const needs = needsOf([...computes, ...groupBy.map((g) => g.sort)]);
  return [...new Set([...groupBy.map((g) => g.facet), ...needs.numbers, ...needs.distinct])];
}

/**
 * Points a timeseries may have: as many as the gateway allows a panel (tinkr-server's
 * docs/analytics.md#get-logsaggregate-and-get-tracesaggregate).
 */
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

/**
 * One aggregation, fed the range in chunks: `aggregate` runs it to the end at once (the ground
 * truth), `aggregateInSteps` yields to the event loop between chunks, so a request over weeks of
 * data does not freeze a process that also serves other requests (the demo's server, the
 * benchmark's gateway).
 */
class Aggregation {
  readonly #computes: readonly ResolvedCompute[];
  readonly #groupBy: readonly GroupBySpec[];
  readonly #source: AggregateSource;
  readonly #needs: Needs;
  readonly #root: GroupNode;
  #groups = 0;

  constructor(computes: readonly ResolvedCompute[], groupBy: readonly GroupBySpec[], source: AggregateSource) {
    this.#computes = computes;
    this.#groupBy = groupBy;
    this.#source = source;
    this.#needs = needsOf([...computes, ...groupBy.map((g) => g.sort)]);
    this.#root = newNode(computes, groupBy.length === 0);
  }

  /** Adds the events of [fromMs, toMs); a message when there are too many groups. */
  feed(fromMs: number, toMs: number): string | undefined {
    if (fromMs >= toMs) return undefined;
    for (let slot = slotOf(fromMs); slot <= slotOf(toMs - 1); slot++) {
      for (const row of this.#source.rowsInSlot(slot)) {
        if (row.ms < fromMs || row.ms >= toMs) continue;
        const failed = this.#add(row.ms, row.target);
        if (failed) return failed;
      }
    }
    return undefined;
  }

  /** One event into every group it belongs to; a message when there are too many groups. */
  #add(ms: number, target: SearchTarget): string | undefined {
    const groupBy = this.#groupBy;
    const values = groupBy.map((g) => facetValues(target, g));
    if (values.some((v) => v.length === 0)) return undefined;
    const place = (node: GroupNode, level: number): void => {
      node.acc.add(target, this.#needs);
      if (level === groupBy.length) {
        addToSeries(node, this.#computes, ms, target, this.#needs);
        return;
      }
      for (const value of values[level]!) {
        const key = scalarKey(value)!;
        let child = node.children.get(key);
        if (!child) {
          if (++this.#groups > MAX_GROUPS) return;
          child = newNode(this.#computes, level + 1 === groupBy.length, value, key);
          node.children.set(key, child);
        }
        place(child, level + 1);
      }
    };
    place(this.#root, 0);
    return this.#groups > MAX_GROUPS ? `the query has more than ${MAX_GROUPS} groups; group by fewer or coarser facets` : undefined;
  }

  result(): AggregateBucket[] {
    const groupBy = this.#groupBy;
    // No group-by and nothing matched: Datadog answers with no bucket at all.
    if (groupBy.length === 0 && this.#root.acc.count === 0) return [];
    const buckets: AggregateBucket[] = [];
    const emit = (node: GroupNode, level: number, by: Record<string, FacetValue>): void => {
      if (level === groupBy.length) {
        buckets.push({ by, computes: computesOf(node, this.#computes) });
        return;
      }
      const spec = groupBy[level]!;
      for (const child of selectChildren(node, spec)) emit(child, level + 1, { ...by, [spec.facet]: child.value });
    };
    emit(this.#root, 0, {});
    return buckets;
  }
}

/** Slots (10 s each) aggregated between two yields: a few milliseconds of work. */
const CHUNK_MS = 50 * 10_000;

/** [from, to) cut at multiples of CHUNK_MS, so no slot is generated twice. */
function* chunks(fromMs: number, toMs: number): Generator<[number, number]> {
  for (let start = fromMs; start < toMs; ) {
    const end = Math.min(toMs, (Math.floor(start / CHUNK_MS) + 1) * CHUNK_MS);
    yield [start, end];
    start = end;
  }
}

export function aggregate(computes: readonly ResolvedCompute[], groupBy: readonly GroupBySpec[], source: AggregateSource): AggregateBucket[] | string {
  const run = new Aggregation(computes, groupBy, source);
  for (const [from, to] of chunks(source.fromMs, source.toMs)) {
    const failed = run.feed(from, to);
    if (failed) return failed;
  }
  return run.result();
}

export async function aggregateInSteps(
  computes: readonly ResolvedCompute[],
  groupBy: readonly GroupBySpec[],
  source: AggregateSource,
): Promise<AggregateBucket[] | string> {
  const run = new Aggregation(computes, groupBy, source);
  for (const [from, to] of chunks(source.fromMs, source.toMs)) {
    const failed = run.feed(from, to);
    if (failed) return failed;
    await new Promise((resolve) => setImmediate(resolve));
  }
  return run.result();
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
