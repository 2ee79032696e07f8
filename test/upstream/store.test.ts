import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../src/upstream/store.ts';
import { ManualClock } from '../helpers/manual-clock.ts';

describe('in-memory store', () => {
  it('returns what was set until it expires on the Clock', async () => {
    const clock = new ManualClock();
    const store = createMemoryStore<string>({ maxBytes: 1_000, maxEntries: 10, clock });
    await store.set('a', 'one', { ttlMs: 1_000, bytes: 3 });
    expect(await store.get('a')).toBe('one');
    clock.advance(999);
    expect(await store.get('a')).toBe('one');
    clock.advance(1);
    expect(await store.get('a')).toBeUndefined();
    expect(store.size).toBe(0);
    expect(await store.get('never set')).toBeUndefined();
  });

  it('replaces and deletes', async () => {
    const store = createMemoryStore<number>({ maxBytes: 1_000, maxEntries: 10, clock: new ManualClock() });
    await store.set('a', 1, { ttlMs: 1_000 });
    await store.set('a', 2, { ttlMs: 1_000 });
    expect(await store.get('a')).toBe(2);
    await store.delete('a');
    expect(await store.get('a')).toBeUndefined();
    await store.set('b', 3, { ttlMs: 0 });
    expect(await store.get('b')).toBeUndefined();
  });

  it('stays within its byte bound by dropping the least recently used values', async () => {
    const store = createMemoryStore<string>({ maxBytes: 100, maxEntries: 1_000, clock: new ManualClock() });
    await store.set('a', 'A', { ttlMs: 60_000, bytes: 40 });
    await store.set('b', 'B', { ttlMs: 60_000, bytes: 40 });
    expect(await store.get('a')).toBe('A');
    await store.set('c', 'C', { ttlMs: 60_000, bytes: 40 });
    expect(store.bytes).toBeLessThanOrEqual(100);
    expect(await store.get('b')).toBeUndefined();
    expect(await store.get('a')).toBe('A');
    expect(await store.get('c')).toBe('C');
  });

  it('refuses a value larger than the whole bound instead of emptying itself', async () => {
    const store = createMemoryStore<string>({ maxBytes: 100, maxEntries: 1_000, clock: new ManualClock() });
    await store.set('a', 'A', { ttlMs: 60_000, bytes: 40 });
    await store.set('huge', 'H', { ttlMs: 60_000, bytes: 101 });
    expect(await store.get('huge')).toBeUndefined();
    expect(await store.get('a')).toBe('A');
  });

  it('stays within its count bound', async () => {
    const store = createMemoryStore<number>({ maxBytes: 1_000_000, maxEntries: 3, clock: new ManualClock() });
    for (let i = 0; i < 10; i++) await store.set(`k${i}`, i, { ttlMs: 60_000 });
    expect(store.size).toBe(3);
    expect(await store.get('k9')).toBe(9);
    expect(await store.get('k0')).toBeUndefined();
  });
});
