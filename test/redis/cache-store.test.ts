import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock, type Clock } from '../../src/clock.ts';
import { createSharedCacheStore, sharedCacheStore } from '../../src/redis/cache-store.ts';
import { framedCodec } from '../../src/redis/codec.ts';
import type { RedisConnection } from '../../src/redis/connection.ts';
import { createRedisStore } from '../../src/redis/store.ts';
import { recordBytes, type CachedAnswer, type CacheRecord } from '../../src/upstream/answer-cache.ts';
import { createMemoryStore } from '../../src/upstream/store.ts';
import { eventually } from '../helpers/eventually.ts';
import { ManualClock } from '../helpers/manual-clock.ts';
import { connectTestStore, startTestRedis, type TestRedis } from '../helpers/redis-server.ts';

/**
 * The finished-answer cache shared through a real Redis: what one replica keeps another reads,
 * as the bytes that were sent, each under the prefix with a TTL; a replica keeps a near copy of
 * a fresh answer until its freshness ends; what cannot be shared (over the size cap, or while
 * Redis is degraded) stays in the replica's own bounded store and is still served; Redis failing
 * is a miss or a local write, never an error.
 */

const PREFIX = 'cache-test:';
let redis: TestRedis;
const connections: RedisConnection[] = [];

async function connect(): Promise<RedisConnection> {
  const connection = await connectTestStore(redis, PREFIX);
  connections.push(connection);
  return connection;
}

const localStore = (clock: Clock = systemClock) => createMemoryStore<CacheRecord>({ maxBytes: 1 << 20, maxEntries: 100, clock });

function answer(text: string, now = Date.now()): CachedAnswer {
  return { bytes: Buffer.from(text), fetchedAt: now, freshUntil: now + 10_000, revalidateUntil: now + 20_000 };
}

const set = (store: ReturnType<typeof localStore>, key: string, record: CacheRecord) => store.set(key, record, { ttlMs: 60_000, bytes: recordBytes(key, record) });

beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  for (const connection of connections) await connection.close();
  await redis.close();
});

describe('the shared answer cache', () => {
  it("keeps answers and series pointers in Redis, under the prefix with a TTL, where another replica reads them", async () => {
    const [a, b] = [await connect(), await connect()];
    const storeA = sharedCacheStore(a, localStore(), systemClock);
    const storeB = sharedCacheStore(b, localStore(), systemClock);
    const kept = answer('{"data":["from A"]}');
    await set(storeA, 'c:one', kept);
    await set(storeA, 's:panel', { latest: 'one' });

    const read = (await storeB.get('c:one')) as CachedAnswer;
    expect(read.bytes.toString()).toBe('{"data":["from A"]}');
    expect({ ...read, bytes: undefined }).toEqual({ ...kept, bytes: undefined });
    expect(await storeB.get('s:panel')).toEqual({ latest: 'one' });
    for (const key of ['c:one', 's:panel']) {
      const ttl = Number(redis.cli('PTTL', `${PREFIX}cache:${key}`));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60_000);
    }
    await storeB.delete('c:one');
    expect(redis.cli('EXISTS', `${PREFIX}cache:c:one`)).toBe('0');
  });

  it('serves repeated hits of a fresh answer from a near copy, and only until its freshness ends', async () => {
    const [a, b] = [await connect(), await connect()];
    const clock = new ManualClock(Date.now());
    const [localA, localB] = [localStore(clock), localStore(clock)];
    const storeA = sharedCacheStore(a, localA, clock);
    const storeB = sharedCacheStore(b, localB, clock);
    await set(storeA, 'c:near', answer('"fresh"', clock.now()));
    await set(storeA, 's:near', { latest: 'near' });
    // The writer keeps a copy of the answer, not of the pointer (it changes at every bucket roll).
    expect(localA.size).toBe(1);
    expect(((await storeB.get('c:near')) as CachedAnswer).bytes.toString()).toBe('"fresh"');
    expect(localB.size).toBe(1);

    // Gone from Redis (evicted, say): both still serve their copies while the answer is fresh...
    redis.cli('DEL', `${PREFIX}cache:c:near`);
    for (const store of [storeA, storeB]) expect(((await store.get('c:near')) as CachedAnswer).bytes.toString()).toBe('"fresh"');
    // ...and ask Redis again once it is not.
    clock.advance(10_000);
    for (const store of [storeA, storeB]) expect(await store.get('c:near')).toBeUndefined();
    expect(localA.size + localB.size).toBe(0);
  });

  it('keeps no near copy when told not to (the benchmark): every hit reads Redis, what cannot be shared is still kept', async () => {
    const [a, b] = [await connect(), await connect()];
    const [localA, localB] = [localStore(), localStore()];
    const storeA = sharedCacheStore(a, localA, systemClock, { nearCopies: false });
    const storeB = sharedCacheStore(b, localB, systemClock, { nearCopies: false });
    await set(storeA, 'c:far', answer('"only in Redis"'));
    expect(((await storeB.get('c:far')) as CachedAnswer).bytes.toString()).toBe('"only in Redis"');
    expect(localA.size + localB.size).toBe(0);
    // Gone from Redis: neither replica has it any more.
    redis.cli('DEL', `${PREFIX}cache:c:far`);
    for (const store of [storeA, storeB]) expect(await store.get('c:far')).toBeUndefined();

    const small = { namespace: 'cache:', codec: framedCodec<CacheRecord>(), maxValueBytes: 200 };
    const capped = createSharedCacheStore(createRedisStore(a, small), localA, a.health, systemClock, { nearCopies: false });
    await set(capped, 'c:big-far', answer(`{"data":"${'x'.repeat(500)}"}`));
    expect(localA.size).toBe(1);
    expect(((await capped.get('c:big-far')) as CachedAnswer).bytes.length).toBeGreaterThan(500);
  });

  it('keeps an answer over the size cap in the replica that made it only', async () => {
    const [a, b] = [await connect(), await connect()];
    const small = { namespace: 'cache:', codec: framedCodec<CacheRecord>(), maxValueBytes: 200 };
    const [localA, localB] = [localStore(), localStore()];
    const storeA = createSharedCacheStore(createRedisStore(a, small), localA, a.health, systemClock);
    const storeB = createSharedCacheStore(createRedisStore(b, small), localB, b.health, systemClock);
    await set(storeA, 'c:big', answer(`{"data":"${'x'.repeat(500)}"}`));
    expect(redis.cli('EXISTS', `${PREFIX}cache:c:big`)).toBe('0');
    expect(((await storeA.get('c:big')) as CachedAnswer).bytes.length).toBeGreaterThan(500);
    expect(localA.size).toBe(1);
    expect(await storeB.get('c:big')).toBeUndefined();
  });

  it('keeps and serves answers of its own while Redis is hung, and shares again once it is back', async () => {
    const connection = await connect();
    // Kept by another replica: this one has no copy of it.
    await set(sharedCacheStore(await connect(), localStore(), systemClock), 'c:before', answer('"shared before"'));
    const store = sharedCacheStore(connection, localStore(), systemClock);

    redis.pause();
    try {
      // The first call waits out timeout_ms and is a miss; later ones go straight to the local store.
      expect(await store.get('c:before')).toBeUndefined();
      expect(connection.health.up).toBe(false);
      await set(store, 'c:during', answer('"kept alone"'));
      await set(store, 'c:before', answer('"made alone"'));
      expect(((await store.get('c:during')) as CachedAnswer).bytes.toString()).toBe('"kept alone"');
    } finally {
      redis.resume();
    }
    await eventually(() => connection.health.up, 'the store is back');
    // What only this replica made is still served (fresh answers are as good as shared ones)...
    expect(((await store.get('c:before')) as CachedAnswer).bytes.toString()).toBe('"made alone"');
    expect(((await store.get('c:during')) as CachedAnswer).bytes.toString()).toBe('"kept alone"');
    expect(redis.cli('EXISTS', `${PREFIX}cache:c:during`)).toBe('0');
    // ...and what it makes now is shared again.
    await set(store, 'c:after', answer('"shared again"'));
    expect(redis.cli('EXISTS', `${PREFIX}cache:c:after`)).toBe('1');
  });

  it('never fails a call when Redis is gone', async () => {
    const connection = await connect();
    const store = sharedCacheStore(connection, localStore(), systemClock);
    await redis.kill();
    try {
      await expect(store.get('c:any')).resolves.toBeUndefined();
      await set(store, 'c:any', answer('"alone"'));
      expect(((await store.get('c:any')) as CachedAnswer).bytes.toString()).toBe('"alone"');
      await expect(store.delete('c:any')).resolves.toBeUndefined();
    } finally {
      await redis.restart();
    }
    for (const c of connections) await eventually(() => c.health.up, 'reconnected', 20_000);
  });
});
