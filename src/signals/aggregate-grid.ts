/**
 * The time buckets of an aggregate panel. Datadog cuts a timeseries at multiples of the interval
 * since the epoch (a 5-minute series starts at :00, :05, ...), the first bucket possibly before
 * `from`, and leaves out buckets without data; callers get every bucket of the range.
 */

/** Buckets per series: a 1,500 px panel has a bucket per pixel; more is not drawable. */
export const MAX_BUCKETS = 1_500;
/**
 * Points per answer (groups × buckets): 100 series of 1,500 points, about 3 MB of JSON, the
 * most a panel can draw and a bound on what one request can make the server build.
 */
export const MAX_POINTS = 150_000;

export interface BucketGrid {
  /** Start of the first bucket (epoch ms, a multiple of the interval). */
  startMs: number;
  intervalMs: number;
  count: number;
  /**
   * Every bucket as `[start, value]`: Datadog's points where it sent one, `empty` elsewhere. A
   * point is placed in the bucket its time falls in; should two land in one bucket (a grid not
   * aligned like ours), counts add up and other computes keep the first.
   */
  fill(points: ReadonlyArray<readonly [number, number]>, empty: number | null, additive: boolean): Array<[number, number | null]>;
}

export function bucketGrid(fromMs: number, toMs: number, intervalMs: number): BucketGrid {
  const first = Math.floor(fromMs / intervalMs);
  const count = Math.max(1, Math.ceil(toMs / intervalMs) - first);
  const startMs = first * intervalMs;
  return {
    startMs,
    intervalMs,
    count,
    fill(points, empty, additive) {
      const values: Array<number | null> = new Array<number | null>(count).fill(null);
      for (const [time, value] of points) {
        const index = Math.floor((time - startMs) / intervalMs);
        if (index < 0 || index >= count) continue;
        const current = values[index];
        values[index] = current === null || current === undefined ? value : additive ? current + value : current;
      }
      return values.map((value, i) => [startMs + i * intervalMs, value ?? empty]);
    },
  };
}
