import { describe, expect, it } from 'vitest';
import { bucketGrid } from '../../src/signals/aggregate-grid.ts';

const M = 60_000;

describe('bucket grid', () => {
  it('starts at the multiple of the interval at or before `from` and covers up to `to`', () => {
    const grid = bucketGrid(10 * M + 30_000, 15 * M, 2 * M);
    expect(grid).toMatchObject({ startMs: 10 * M, count: 3 });
    expect(grid.fill([], 0, true)).toEqual([[10 * M, 0], [12 * M, 0], [14 * M, 0]]);
  });

  it("puts Datadog's points in their buckets, and fills the gaps", () => {
    const grid = bucketGrid(0, 4 * M, M);
    expect(grid.fill([[M, 5], [3 * M, 7]], 0, true)).toEqual([[0, 0], [M, 5], [2 * M, 0], [3 * M, 7]]);
    expect(grid.fill([[M, 5.5]], null, false)).toEqual([[0, null], [M, 5.5], [2 * M, null], [3 * M, null]]);
  });

  it('points off our grid land in the bucket their time falls in; outside the range they are dropped', () => {
    const grid = bucketGrid(0, 3 * M, M);
    expect(grid.fill([[30_000, 1], [45_000, 2], [-M, 9], [3 * M, 9]], 0, true)).toEqual([[0, 3], [M, 0], [2 * M, 0]]);
    expect(grid.fill([[30_000, 1], [45_000, 2]], null, false)).toEqual([[0, 1], [M, null], [2 * M, null]]);
  });
});
