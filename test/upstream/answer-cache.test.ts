import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/auth/keyring.ts';
import type { ApiKeyConfig } from '../../src/config/schema.ts';
import { createResponseCache, type CacheRecord } from '../../src/upstream/cache.ts';
import { DEFAULT_UPSTREAM_POLICY } from '../../src/upstream/pipeline.ts';
import { createMemoryStore } from '../../src/upstream/store.ts';
import type { UpstreamRequest } from '../../src/upstream/types.ts';
import { DEFAULT_KEYS, TEST_TOKEN } from '../helpers/app.ts';
import { ManualClock } from '../helpers/manual-clock.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

const NOW = Date.parse('2026-11-25T04:00:00.000Z');
const MIN = 60_000;

describe('response cache', () => {
  const request = (fromMs: number, toMs: number): UpstreamRequest => ({
    family: 'logs',
    method: 'POST',
    path: '/api/v2/logs/events/search',
    body: { filter: { query: '*', from: String(fromMs), to: String(toMs) } },
    window: { fromMs, toMs },
  });

  function cacheAt(clock: ManualClock) {
    const store = createMemoryStore<CacheRecord>({ maxBytes: 1024 * 1024, maxEntries: 100, clock });
    return createResponseCache(DEFAULT_UPSTREAM_POLICY.cache, store, clock);
  }

  it('keeps a live range fresh for one step of its length, then only as a fallback', async () => {
    const clock = new ManualClock(NOW);
    const cache = cacheAt(clock);
    const live = request(NOW - 15 * MIN, NOW);
    const keys = cache.keys(live, '', 'origin');
    await cache.store(keys, live, { body: { n: 1 }, cache: 'miss', fetchedAt: NOW });
    clock.advance(9_999);
    expect((await cache.lookup(keys)).fresh?.body).toEqual({ n: 1 });
    clock.advance(1);
    const later = await cache.lookup(keys);
    expect(later.fresh).toBeUndefined();
    expect(later.fallback).toEqual({ body: { n: 1 }, fetchedAt: NOW, freshUntil: NOW + 10_000, window: { fromMs: NOW - 15 * MIN, toMs: NOW } });
    clock.advance(DEFAULT_UPSTREAM_POLICY.cache.maxStaleMs);
    expect(await cache.lookup(keys)).toEqual({});
  });

  it('keeps a range that ended before the ingestion delay fresh for the immutable lifetime', async () => {
    const clock = new ManualClock(NOW);
    const cache = cacheAt(clock);
    const settled = request(NOW - 2 * 60 * MIN, NOW - 60 * MIN);
    const keys = cache.keys(settled, '', 'origin');
    await cache.store(keys, settled, { body: { n: 1 }, cache: 'miss', fetchedAt: NOW });
    clock.advance(DEFAULT_UPSTREAM_POLICY.cache.immutableTtlMs - 1);
    expect((await cache.lookup(keys)).fresh).toBeDefined();

    // Ended 9 minutes ago: still inside the ingestion delay, so fresh for one step only (60 s).
    clock.set(NOW);
    const recent = request(NOW - 2 * 60 * MIN, NOW - 9 * MIN);
    const recentKeys = cache.keys(recent, '', 'origin');
    await cache.store(recentKeys, recent, { body: { n: 2 }, cache: 'miss', fetchedAt: NOW });
    clock.advance(59_999);
    expect((await cache.lookup(recentKeys)).fresh).toBeDefined();
    clock.advance(1);
    expect((await cache.lookup(recentKeys)).fresh).toBeUndefined();
  });

  it('finds the newest answer of an earlier bucket of the same panel as a fallback only', async () => {
    const clock = new ManualClock(NOW);
    const cache = cacheAt(clock);
    const series = { family: 'logs' as const, method: 'POST' as const, path: '/x', body: { span: 900_000 } };
    const first = { ...request(NOW - 15 * MIN, NOW), window: { fromMs: NOW - 15 * MIN, toMs: NOW, series } };
    await cache.store(cache.keys(first, '', 'o'), first, { body: { bucket: 1 }, cache: 'miss', fetchedAt: NOW });
    clock.advance(10_000);
    const next = { ...request(NOW - 15 * MIN + 10_000, NOW + 10_000), window: { fromMs: NOW - 15 * MIN + 10_000, toMs: NOW + 10_000, series } };
    const found = await cache.lookup(cache.keys(next, '', 'o'));
    expect(found.fresh).toBeUndefined();
    expect(found.fallback?.body).toEqual({ bucket: 1 });
    // Another scope never sees it.
    expect(await cache.lookup(cache.keys(next, 'scope-b', 'o'))).toEqual({});
  });

  it('stores nothing and finds nothing when disabled', async () => {
    const clock = new ManualClock(NOW);
    const store = createMemoryStore<CacheRecord>({ maxBytes: 1024 * 1024, maxEntries: 100, clock });
    const cache = createResponseCache({ ...DEFAULT_UPSTREAM_POLICY.cache, enabled: false }, store, clock);
    const live = request(NOW - 15 * MIN, NOW);
    await cache.store(cache.keys(live, '', 'o'), live, { body: {}, cache: 'miss', fetchedAt: NOW });
    expect(store.size).toBe(0);
    expect(await cache.lookup(cache.keys(live, '', 'o'))).toEqual({});
  });
});

/** Two keys whose scopes differ but whose composed query for `service=checkout` is the same. */
const SCOPED_A = 'test-token-scope-a';
const SCOPED_B = 'test-token-scope-b';
const KEYS: ApiKeyConfig[] = [
  ...DEFAULT_KEYS,
  { hash: sha256Hex(SCOPED_A), subject: 'team-a', roles: ['viewer'], services: ['checkout', 'ledger'] },
  { hash: sha256Hex(SCOPED_B), subject: 'team-b', roles: ['viewer'], services: ['checkout', 'payments-api'] },
];

describe('bucketed caching through the server', () => {
  const clock = new ManualClock(NOW);
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ clock, keys: KEYS });
  });
  afterAll(() => stack.close());
  beforeEach(() => {
    stack.sim.assertNoViolations();
    stack.sim.resetRequests();
  });

  async function get(path: string, token = TEST_TOKEN, headers: Record<string, string> = {}) {
    const res = await stack.app.get(path, { headers: { authorization: `Bearer ${token}`, ...headers } });
    return { status: res.status, cache: res.headers.get('x-tinkr-cache'), age: res.headers.get('age'), body: (await res.json()) as any };
  }

  it('serves refreshes within one step from one upstream call, with the snapped range, bucket and Age', async () => {
    clock.set(NOW + 2_000);
    const first = await get('/logs?service=ledger&since=15m&limit=5');
    expect(first).toMatchObject({ status: 200, cache: 'miss', age: null });
    // Moved forward onto the 10 s grid: the newest data is in, and 04:00:00.001–04:00:10 is one bucket.
    expect(first.body.meta).toMatchObject({ from: '2026-11-25T03:45:10.000Z', to: '2026-11-25T04:00:10.000Z', bucket_s: 10 });
    clock.set(NOW + 9_999);
    const refresh = await get('/logs?service=ledger&since=15m&limit=5');
    expect(refresh).toMatchObject({ status: 200, cache: 'hit', age: '7' });
    // The same answer; only the cursor is signed anew (it expires an hour after it is issued).
    expect(refresh.body.data).toEqual(first.body.data);
    expect({ ...refresh.body.meta, next_cursor: null }).toEqual({ ...first.body.meta, next_cursor: null });
    // from=now-15m is the same relative range as the default and as since=15m.
    expect((await get('/logs?service=ledger&from=now-15m&limit=5')).cache).toBe('hit');
    expect(stack.sim.callCount('logs')).toBe(1);

    clock.set(NOW + 10_000);
    expect((await get('/logs?service=ledger&since=15m&limit=5')).cache).toBe('hit');
    clock.set(NOW + 10_001);
    const nextBucket = await get('/logs?service=ledger&since=15m&limit=5');
    expect(nextBucket.cache).toBe('miss');
    expect(nextBucket.body.meta.to).toBe('2026-11-25T04:00:20.000Z');
    expect(stack.sim.callCount('logs')).toBe(2);
  });

  it('misses for a different range, query, limit or sort', async () => {
    clock.set(NOW);
    expect((await get('/logs?service=checkout&since=1h&limit=5')).cache).toBe('miss');
    expect((await get('/logs?service=checkout&since=1h&limit=5')).cache).toBe('hit');
    expect((await get('/logs?service=checkout&since=2h&limit=5')).cache).toBe('miss');
    expect((await get('/logs?service=checkout&since=1h&limit=5&query=error')).cache).toBe('miss');
    expect((await get('/logs?service=checkout&since=1h&limit=6')).cache).toBe('miss');
    expect((await get('/logs?service=checkout&since=1h&limit=5&sort=asc')).cache).toBe('miss');
    expect(stack.sim.callCount('logs')).toBe(5);
  });

  it('never shares an answer between caller scopes, even for the same upstream query', async () => {
    clock.set(NOW);
    const a = await get('/logs?service=checkout&since=30m&limit=5', SCOPED_A);
    const b = await get('/logs?service=checkout&since=30m&limit=5', SCOPED_B);
    expect([a.cache, b.cache]).toEqual(['miss', 'miss']);
    const sent = stack.sim.requests.map((r) => (r.body as { filter: { query: string } }).filter.query);
    expect(sent[0]).toBe(sent[1]);
    expect((await get('/logs?service=checkout&since=30m&limit=5', SCOPED_A)).cache).toBe('hit');
    expect((await get('/logs?service=checkout&since=30m&limit=5', SCOPED_B)).cache).toBe('hit');
    expect(stack.sim.callCount('logs')).toBe(2);
  });

  it('bypasses the cache read on Cache-Control: no-cache, and stores the fresh answer', async () => {
    clock.set(NOW);
    expect((await get('/traces?service=checkout&since=15m&limit=3')).cache).toBe('miss');
    clock.set(NOW + 4_000);
    const bypass = await get('/traces?service=checkout&since=15m&limit=3', TEST_TOKEN, { 'cache-control': 'no-cache' });
    expect(bypass).toMatchObject({ status: 200, cache: 'bypass', age: null });
    clock.set(NOW + 6_000);
    expect(await get('/traces?service=checkout&since=15m&limit=3')).toMatchObject({ cache: 'hit', age: '2' });
    expect(stack.sim.callCount('spans')).toBe(2);
  });

  it('caches metrics and trace lookups the same way', async () => {
    clock.set(NOW + 1_000);
    const metric = '/metrics?metric=system.cpu.user&service=ledger&since=1d';
    const first = await get(metric);
    expect(first.body.meta).toMatchObject({ bucket_s: 60, to: '2026-11-25T04:01:00.000Z' });
    clock.set(NOW + 59_000);
    expect((await get(metric)).cache).toBe('hit');
    expect(stack.sim.callCount('metrics')).toBe(1);

    const traceId = stack.sim.truth.sampleTraceId(NOW - 10 * MIN);
    const trace = await get(`/traces/${traceId}`);
    expect(trace.status).toBe(200);
    expect(trace.body.meta).toMatchObject({ bucket_s: 60 });
    expect((await get(`/traces/${traceId}`)).cache).toBe('hit');
  });

  it('keeps an absolute range that ended long ago for the immutable lifetime, unsnapped', async () => {
    clock.set(NOW);
    const path = `/logs?from=${NOW - 3 * 60 * MIN}&to=${NOW - 2 * 60 * MIN}&limit=5`;
    const first = await get(path);
    expect(first.body.meta).toMatchObject({ from: '2026-11-25T01:00:00.000Z', to: '2026-11-25T02:00:00.000Z', bucket_s: 0 });
    clock.set(NOW + 59 * MIN);
    expect(await get(path)).toMatchObject({ cache: 'hit', age: String(59 * 60) });
    clock.set(NOW + 60 * MIN);
    expect((await get(path)).cache).toBe('miss');
    expect(stack.sim.callCount('logs')).toBe(2);
  });

  it('keeps the snapped range in the cursor: page 2 continues page 1 exactly', async () => {
    clock.set(NOW + 4_000);
    const first = await get('/logs?service=checkout&since=15m&limit=20');
    clock.set(NOW + 25_000);
    const second = await get(`/logs?service=checkout&since=15m&limit=20&cursor=${encodeURIComponent(first.body.meta.next_cursor)}`);
    expect(second.body.meta).toMatchObject({ from: first.body.meta.from, to: first.body.meta.to, bucket_s: 10 });
    // The snapped range ends at 04:00:10, in the future: the simulator answered page 1 with what
    // it held at 04:00:04, and page 2 continues that result set, so the truth is taken then.
    clock.set(NOW + 4_000);
    const expected = stack.sim.truth.logs({ query: 'service:checkout', from: NOW + 10_000 - 15 * MIN, to: NOW + 10_000 });
    const ids = [...first.body.data, ...second.body.data].map((l: { id: string }) => l.id);
    expect(ids).toEqual(expected.slice(0, 40).map((l) => l.id));
  });
});
