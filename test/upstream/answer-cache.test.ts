import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { sha256Hex } from '../../src/auth/keyring.ts';
import type { ApiKeyConfig } from '../../src/config/schema.ts';
import { CURSOR_TTL_MS } from '../../src/signals/cursor.ts';
import type { TimeRange } from '../../src/time/range.ts';
import { createAnswerCache, ENTRY_OVERHEAD_BYTES, recordBytes, type CachedAnswer, type CacheRecord } from '../../src/upstream/answer-cache.ts';
import type { AnswerQuery } from '../../src/upstream/answer.ts';
import { DEFAULT_UPSTREAM_POLICY } from '../../src/upstream/pipeline.ts';
import { createMemoryStore } from '../../src/upstream/store.ts';
import { DEFAULT_KEYS, TEST_TOKEN } from '../helpers/app.ts';
import { ManualClock } from '../helpers/manual-clock.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

const eventually = (check: () => void) => vi.waitFor(check, { timeout: 15_000, interval: 5 });

const NOW = Date.parse('2026-11-25T04:00:00.000Z');
const MIN = 60_000;
const DAY = 24 * 60 * MIN;

describe('answer cache', () => {
  const query = (route = 'logs'): AnswerQuery => ({
    family: 'logs',
    route,
    identity: ['checkout'],
    time: { kind: 'instants', from: { kind: 'relative', offsetMs: 15 * MIN }, to: { kind: 'relative', offsetMs: 0 } },
    maxRangeMs: DAY,
    produce: async () => ({}),
  });
  const live = (toMs: number): TimeRange => ({ fromMs: toMs - 15 * MIN, toMs, relative: true, stepMs: 10_000 });
  const fixed = (fromMs: number, toMs: number): TimeRange => ({ fromMs, toMs, relative: false, stepMs: 0 });
  const answer = (text: string, fetchedAt: number, cache: ReturnType<typeof createAnswerCache>, range: TimeRange): CachedAnswer => {
    const life = cache.lifetimes(range, fetchedAt);
    return { bytes: Buffer.from(text), fetchedAt, freshUntil: fetchedAt + life.freshMs, revalidateUntil: fetchedAt + life.freshMs + life.revalidateMs };
  };

  function cacheAt(clock: ManualClock, options = DEFAULT_UPSTREAM_POLICY.cache) {
    const store = createMemoryStore<CacheRecord>({ maxBytes: 1024 * 1024, maxEntries: 100, clock });
    return { store, cache: createAnswerCache(options, store, clock) };
  }

  it('keeps a live range fresh for one step of its length, revalidatable for one more, then only as a fallback', async () => {
    const clock = new ManualClock(NOW);
    const { cache } = cacheAt(clock);
    const range = live(NOW);
    const life = cache.lifetimes(range, NOW);
    expect(life).toEqual({ freshMs: 10_000, revalidateMs: 10_000, keepMs: DEFAULT_UPSTREAM_POLICY.cache.maxStaleMs });
    const keys = cache.keys(query(), range, '', 'origin');
    const entry = answer('{"n":1}', NOW, cache, range);
    await cache.store(keys, entry, NOW + life.keepMs);
    expect(entry).toMatchObject({ freshUntil: NOW + 10_000, revalidateUntil: NOW + 20_000 });
    clock.advance(DEFAULT_UPSTREAM_POLICY.cache.maxStaleMs - 1);
    expect((await cache.lookup(keys)).exact?.bytes.toString()).toBe('{"n":1}');
    clock.advance(1);
    expect(await cache.lookup(keys)).toEqual({});
  });

  it('keeps a range that ended before the ingestion delay fresh for the immutable lifetime', () => {
    const { cache } = cacheAt(new ManualClock(NOW));
    const ttl = DEFAULT_UPSTREAM_POLICY.cache.immutableTtlMs;
    expect(cache.lifetimes(fixed(NOW - 2 * 60 * MIN, NOW - 60 * MIN), NOW)).toEqual({ freshMs: ttl, revalidateMs: ttl, keepMs: 2 * ttl });
    // Ended 9 minutes ago: still inside the ingestion delay, so fresh for one step only (60 s).
    expect(cache.lifetimes(fixed(NOW - 2 * 60 * MIN, NOW - 9 * MIN), NOW).freshMs).toBe(60_000);
  });

  it('finds the newest answer of an earlier bucket of the same panel, and keeps scopes and routes apart', async () => {
    const clock = new ManualClock(NOW);
    const { cache } = cacheAt(clock);
    const first = live(NOW);
    await cache.store(cache.keys(query(), first, '', 'o'), answer('{"bucket":1}', NOW, cache, first), NOW + 60 * MIN);
    clock.advance(10_000);
    const next = cache.keys(query(), live(NOW + 10_000), '', 'o');
    expect(next.key).not.toBe(cache.keys(query(), first, '', 'o').key);
    const found = await cache.lookup(next);
    expect(found.exact).toBeUndefined();
    expect(found.latest?.bytes.toString()).toBe('{"bucket":1}');
    // Another scope, another route or another account never sees it.
    expect(await cache.lookup(cache.keys(query(), live(NOW + 10_000), 'scope-b', 'o'))).toEqual({});
    expect(await cache.lookup(cache.keys(query('tinkr.logs'), live(NOW + 10_000), '', 'o'))).toEqual({});
    expect(await cache.lookup(cache.keys(query(), live(NOW + 10_000), '', 'other-account'))).toEqual({});
    // An absolute range has no series: only its own entry.
    expect(cache.keys(query(), fixed(NOW - MIN, NOW), '', 'o').series).toBeUndefined();
  });

  it('counts what each record costs: its bytes, its key and a fixed overhead', async () => {
    const clock = new ManualClock(NOW);
    const { cache, store } = cacheAt(clock);
    const range = live(NOW);
    const keys = cache.keys(query(), range, '', 'o');
    const bodies = ['{"data":[]}', JSON.stringify({ data: Array.from({ length: 50 }, (_, i) => ({ id: i, message: 'é'.repeat(i) })) })];
    const entry = answer(bodies[1]!, NOW, cache, range);
    await cache.store(keys, entry, NOW + 60 * MIN);
    // The answer (UTF-8 bytes, not characters) under its key, and the series pointer under its own.
    const answerCost = Buffer.byteLength(bodies[1]!) + `c:${keys.key}`.length + ENTRY_OVERHEAD_BYTES;
    const pointerCost = keys.key.length + `s:${keys.series!()}`.length + ENTRY_OVERHEAD_BYTES;
    expect(recordBytes(`c:${keys.key}`, entry)).toBe(answerCost);
    expect(store.bytes).toBe(answerCost + pointerCost);
    expect(store.size).toBe(2);

    const other = cache.keys(query(), fixed(NOW - MIN, NOW), '', 'o');
    await cache.store(other, answer(bodies[0]!, NOW, cache, fixed(NOW - MIN, NOW)), NOW + 60 * MIN);
    expect(store.bytes).toBe(answerCost + pointerCost + bodies[0]!.length + `c:${other.key}`.length + ENTRY_OVERHEAD_BYTES);
  });

  it('stores nothing and finds nothing when disabled', async () => {
    const clock = new ManualClock(NOW);
    const { cache, store } = cacheAt(clock, { ...DEFAULT_UPSTREAM_POLICY.cache, enabled: false });
    const keys = cache.keys(query(), live(NOW), '', 'o');
    await cache.store(keys, answer('{}', NOW, cache, live(NOW)), NOW + MIN);
    expect(store.size).toBe(0);
    expect(await cache.lookup(keys)).toEqual({});
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
  beforeEach(async () => {
    // A refresh started by the previous test must not be counted in this one.
    await eventually(() => expect(stack.engine.inspect().refreshes).toBe(0));
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
    // The very same answer, cursor included: it was signed once, for the entry's whole life.
    expect(refresh.body).toEqual(first.body);
    expect(refresh.body.meta.next_cursor).toEqual(expect.any(String));
    // from=now-15m is the same relative range as the default and as since=15m.
    expect((await get('/logs?service=ledger&from=now-15m&limit=5')).cache).toBe('hit');
    expect(stack.sim.callCount('logs')).toBe(1);

    clock.set(NOW + 10_000);
    expect((await get('/logs?service=ledger&since=15m&limit=5')).cache).toBe('hit');
    // The bucket rolls: nobody waits. Every caller gets the previous bucket's answer at once
    // (stale, with its Age) while exactly one refresh asks Datadog for the new bucket.
    stack.sim.faults.add({ kind: 'latency', delayMs: 1_000, endpoint: 'logs' });
    clock.set(NOW + 10_001);
    for (let i = 0; i < 3; i++) {
      const rolled = await get('/logs?service=ledger&since=15m&limit=5');
      expect(rolled).toMatchObject({ status: 200, cache: 'stale', age: '8' });
      expect(rolled.body).toEqual(first.body);
    }
    expect(stack.engine.inspect().refreshes).toBe(1);
    await eventually(() => expect(stack.sim.callCount('logs')).toBe(2));
    clock.advance(1_000);
    await eventually(() => expect(stack.engine.inspect().refreshes).toBe(0));
    const nextBucket = await get('/logs?service=ledger&since=15m&limit=5');
    expect(nextBucket).toMatchObject({ status: 200, cache: 'hit', age: '0' });
    expect(nextBucket.body.meta.to).toBe('2026-11-25T04:00:20.000Z');
    expect(stack.sim.callCount('logs')).toBe(2);
  });

  it('still asks Datadog for Cache-Control: no-cache while an answer is being revalidated', async () => {
    clock.set(NOW + 300_000);
    expect((await get('/logs?service=ledger&since=5m&limit=2')).cache).toBe('miss');
    clock.advance(6_000);
    expect((await get('/logs?service=ledger&since=5m&limit=2', TEST_TOKEN, { 'cache-control': 'no-cache' })).cache).toBe('bypass');
    // The bypass stored the new bucket (the panel was cached): a fresh hit, no refresh needed.
    expect((await get('/logs?service=ledger&since=5m&limit=2')).cache).toBe('hit');
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

  it('does not keep a no-cache answer to a question nothing is cached for, and refreshes one that is', async () => {
    clock.set(NOW);
    const path = '/logs?service=payments-api&since=20m&limit=3';
    const before = stack.engine.inspect();
    expect((await get(path, TEST_TOKEN, { 'cache-control': 'no-cache' })).cache).toBe('bypass');
    expect(stack.engine.inspect()).toMatchObject({ cacheEntries: before.cacheEntries, cacheBytes: before.cacheBytes });
    expect((await get(path)).cache).toBe('miss');
    clock.advance(1_000);
    expect((await get(path, TEST_TOKEN, { 'cache-control': 'no-cache' })).cache).toBe('bypass');
    clock.advance(1_000);
    expect(await get(path)).toMatchObject({ cache: 'hit', age: '1' });
    expect(stack.sim.callCount('logs')).toBe(3);
  });

  it('counts an entry as the bytes it answers with, its key and a fixed overhead', async () => {
    clock.set(NOW);
    const before = stack.engine.inspect();
    const res = await stack.app.get('/logs?service=payments-api&since=45m&limit=7');
    expect(res.headers.get('x-tinkr-cache')).toBe('miss');
    const sent = (await res.arrayBuffer()).byteLength;
    const after = stack.engine.inspect();
    // A relative range: the answer under `c:<43-character hash>`, and its panel's pointer
    // (`s:<hash>` → the answer's hash).
    const answer = sent + 45 + ENTRY_OVERHEAD_BYTES;
    const pointer = 45 + 43 + ENTRY_OVERHEAD_BYTES;
    expect(after.cacheEntries - before.cacheEntries).toBe(2);
    expect(after.cacheBytes - before.cacheBytes).toBe(answer + pointer);
  });

  it('signs the cursor of a cached answer once: valid as long as the answer is served plus its lifetime, then expired', async () => {
    clock.set(NOW);
    // Settled data: fresh an hour, served while refreshed another, so kept two hours.
    const path = `/logs?service=checkout&from=${NOW - 3 * 60 * MIN}&to=${NOW - 2 * 60 * MIN}&limit=5`;
    const first = await get(path);
    const cursor = first.body.meta.next_cursor as string;
    expect(cursor).toEqual(expect.any(String));
    clock.set(NOW + 119 * MIN);
    const late = await get(path);
    expect(late.cache).toBe('stale');
    expect(late.body.meta.next_cursor).toBe(cursor);
    await eventually(() => expect(stack.engine.inspect().refreshes).toBe(0));
    // Served as late as two hours on, it still has its whole lifetime (CURSOR_TTL_MS) after that.
    clock.set(NOW + 2 * 60 * MIN + CURSOR_TTL_MS);
    const next = await get(`${path}&cursor=${encodeURIComponent(cursor)}`);
    expect(next.status).toBe(200);
    expect(next.body.meta).toMatchObject({ from: first.body.meta.from, to: first.body.meta.to });
    clock.advance(1);
    const expired = await get(`${path}&cursor=${encodeURIComponent(cursor)}`);
    expect(expired.status).toBe(400);
    expect(expired.body.detail).toMatch(/expired/);
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
    // Past its freshness it is served while one refresh runs, then fresh again.
    clock.set(NOW + 60 * MIN);
    expect(await get(path)).toMatchObject({ cache: 'stale', age: String(60 * 60) });
    await eventually(() => expect(stack.engine.inspect().refreshes).toBe(0));
    expect(stack.sim.callCount('logs')).toBe(2);
    expect(await get(path)).toMatchObject({ cache: 'hit', age: '0' });
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
