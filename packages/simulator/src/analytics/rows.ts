import type { SearchTarget } from '../search/evaluate.ts';

/**
 * What the aggregation engine reads of an event: its time and the values of the fields the
 * request uses. A request's rows of one slot are the same whenever the slot is over (the data is
 * a function of time), so they are kept in a RowCache and the next refresh of a panel, a range
 * moved on by seconds, only reads the slots it has not seen. Rows keep only the fields the
 * request uses, a small fraction of a wire event.
 */
export interface Row {
  readonly ms: number;
  readonly target: SearchTarget;
}

/** The row of an event, holding only `fields` (copied out of the event's target). */
export function projectRow(ms: number, target: SearchTarget, fields: readonly string[]): Row {
  const values = fields.map((field) => [...target.values(field)]);
  return {
    ms,
    target: {
      values: (field) => values[fields.indexOf(field)] ?? [],
      // Free text is matched before projection; the engine never reads it.
      text: () => '',
    },
  };
}

/**
 * Rows kept per (request shape, slot), least recently used first out. A bound on rows: a day of
 * spans is about 40,000, of logs about 80,000; a row of two fields takes about 50 bytes of heap,
 * so the bound is some 10 to 20 MB.
 */
export const DEFAULT_MAX_CACHED_ROWS = 200_000;

export class RowCache {
  readonly #maxRows: number;
  readonly #entries = new Map<string, readonly Row[]>();
  #rows = 0;

  constructor(maxRows = DEFAULT_MAX_CACHED_ROWS) {
    this.#maxRows = maxRows;
  }

  get size(): number {
    return this.#rows;
  }

  /** The rows of `slot` for requests of shape `key`; computed (and kept when `settled`) if absent. */
  rows(key: string, slot: number, settled: boolean, compute: () => readonly Row[]): readonly Row[] {
    const id = `${key}\u0000${slot}`;
    const kept = this.#entries.get(id);
    if (kept) {
      // Re-insert: Map order is the eviction order.
      this.#entries.delete(id);
      this.#entries.set(id, kept);
      return kept;
    }
    const rows = compute();
    if (!settled || rows.length > this.#maxRows) return rows;
    this.#entries.set(id, rows);
    this.#rows += rows.length;
    for (const [oldest, list] of this.#entries) {
      if (this.#rows <= this.#maxRows) break;
      this.#entries.delete(oldest);
      this.#rows -= list.length;
    }
    return rows;
  }
}
