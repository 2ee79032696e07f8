import { describe, expect, it } from 'vitest';
import { projectRow, RowCache, type Row } from '@tinkr/datadog-simulator/analytics/rows';

const row = (ms: number): Row => ({ ms, target: { values: () => [ms], text: () => '' } });

describe('rows', () => {
  it('a projection keeps the asked fields only, as they were', () => {
    const target = { values: (field: string) => (field === 'service' ? ['a'] : field === '@duration' ? [5, 7] : []), text: () => 'free text' };
    const projected = projectRow(42, target, ['service', '@duration']);
    expect(projected.ms).toBe(42);
    expect(projected.target.values('service')).toEqual(['a']);
    expect(projected.target.values('@duration')).toEqual([5, 7]);
    expect(projected.target.values('host')).toEqual([]);
  });

  it('the cache keeps settled slots only, and drops the least recently used past its bound', () => {
    const cache = new RowCache(3);
    let computed = 0;
    const rows = (key: string, slot: number, settled = true) =>
      cache.rows(key, slot, settled, () => {
        computed++;
        return [row(slot)];
      });
    rows('k', 1, false);
    rows('k', 1, false);
    expect(computed).toBe(2);
    expect(cache.size).toBe(0);
    rows('k', 1);
    rows('k', 2);
    rows('k', 3);
    rows('k', 1); // used again: 2 is now the oldest
    expect(computed).toBe(5);
    rows('k', 4);
    expect(cache.size).toBe(3);
    rows('k', 1);
    rows('k', 3);
    expect(computed).toBe(6);
    rows('k', 2);
    expect(computed).toBe(7);
    // Another request shape is another entry.
    rows('other', 1);
    expect(computed).toBe(8);
  });
});
