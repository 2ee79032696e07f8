import type { SearchTarget } from '../search/evaluate.ts';
import type { Aggregation } from './request.ts';

/**
 * What one group (or one time bucket of a group) has seen, and the aggregation functions over
 * it. Exact, unlike Datadog's sketches, so tests can state the expected numbers:
 *
 * - `count`: events; `cardinality:<field>`: distinct values of the field (0 when none has it);
 * - `sum`, `min`, `max`, `avg`: over the field's numeric values (strings are not measures);
 * - `pcNN` and `median` (pc50): nearest rank, the value at position ceil(NN/100 · n) of the
 *   values sorted ascending, so the answer is always a value that occurred;
 * - every function but count and cardinality has no value for a group without numbers.
 */

/** The fields a request measures: numbers for the measures, distinct values for cardinality. */
export interface Needs {
  numbers: readonly string[];
  distinct: readonly string[];
}

export class Accumulator {
  count = 0;
  readonly #numbers = new Map<string, number[]>();
  readonly #distinct = new Map<string, Set<string>>();

  add(target: SearchTarget, needs: Needs): void {
    this.count++;
    for (const field of needs.numbers) {
      for (const value of target.values(field)) {
        if (typeof value !== 'number' || !Number.isFinite(value)) continue;
        let list = this.#numbers.get(field);
        if (!list) this.#numbers.set(field, (list = []));
        list.push(value);
      }
    }
    for (const field of needs.distinct) {
      for (const value of target.values(field)) {
        const key = scalarKey(value);
        if (key === undefined) continue;
        let set = this.#distinct.get(field);
        if (!set) this.#distinct.set(field, (set = new Set()));
        set.add(key);
      }
    }
  }

  /** The aggregation's value, or undefined when the group has nothing to measure. */
  value(aggregation: Aggregation, metric: string | undefined): number | undefined {
    if (aggregation === 'count') return this.count;
    if (aggregation === 'cardinality') return this.#distinct.get(metric ?? '')?.size ?? 0;
    const values = this.#numbers.get(metric ?? '');
    if (!values || values.length === 0) return undefined;
    switch (aggregation) {
      case 'sum':
        return sum(values);
      case 'avg':
        return sum(values) / values.length;
      case 'min':
        return values.reduce((a, b) => (b < a ? b : a));
      case 'max':
        return values.reduce((a, b) => (b > a ? b : a));
      case 'median':
        return nearestRank(values, 50);
      default:
        return nearestRank(values, Number(aggregation.slice(2)));
    }
  }
}

/** The fields `computes` and sorts need, deduplicated. */
export function needsOf(measured: ReadonlyArray<{ aggregation: Aggregation; metric: string | undefined }>): Needs {
  const numbers = new Set<string>();
  const distinct = new Set<string>();
  for (const { aggregation, metric } of measured) {
    if (aggregation === 'count' || metric === undefined) continue;
    (aggregation === 'cardinality' ? distinct : numbers).add(metric);
  }
  return { numbers: [...numbers], distinct: [...distinct] };
}

/** A value usable as a group key or a distinct value, with its type kept apart (502 ≠ "502"). */
export function scalarKey(value: unknown): string | undefined {
  if (typeof value === 'string') return `s:${value}`;
  if (typeof value === 'number' && Number.isFinite(value)) return `n:${value}`;
  if (typeof value === 'boolean') return `b:${value}`;
  return undefined;
}

function sum(values: readonly number[]): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

function nearestRank(values: readonly number[], percentile: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((percentile / 100) * sorted.length));
  return sorted[rank - 1]!;
}
