import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.ts';
import type { RedisConnection } from '../../src/redis/connection.ts';
import { createCacheLeases, type CacheLeases } from '../../src/redis/lease.ts';
import { eventually } from '../helpers/eventually.ts';
import { connectTestStore, startTestRedis, TEST_STORE_TIMEOUT_MS, type TestRedis } from '../helpers/redis-server.ts';

/**
 * Leases for coalescing across replicas, on a real Redis: one holder per cache key, renewed
 * while it fetches, waiters woken when it is done, and a dead holder replaced once its lease
 * lapses. Lifetimes are shorter than production's so a lapse takes two seconds, yet long enough
 * that a loaded machine's stalled event loop does not let a live holder's lease lapse; the
 * outcomes, not the durations, are what is checked.
 */

const PREFIX = 'lease-test:';
const TTL_MS = 2_000;
let redis: TestRedis;
const connections: RedisConnection[] = [];
const leaseSets: CacheLeases[] = [];

async function replica(options: { pollMs?: number } = {}): Promise<{ leases: CacheLeases; connection: RedisConnection }> {
  const connection = await connectTestStore(redis, PREFIX);
  connections.push(connection);
  const leases = createCacheLeases(connection, { clock: systemClock, ttlMs: TTL_MS, ...options });
  leaseSets.push(leases);
  return { leases, connection };
}

const far = () => ({ signal: new AbortController().signal, deadline: Date.now() + 20_000 });

beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  for (const leases of leaseSets) await leases.close();
  for (const connection of connections) await connection.close();
  await redis.close();
});

describe('cache leases', () => {
  it('has one holder per key; a waiter is woken by the release (pub/sub, not the poll) and can take the lease', async () => {
    // A poll far slower than the test: only the announcement can wake B in time.
    const [a, b] = [await replica(), await replica({ pollMs: 60_000 })];
    const held = (await a.leases.acquire('key-1'))!;
    expect(held).toBeDefined();
    expect(await b.leases.acquire('key-1')).toBeUndefined();
    expect(await b.leases.acquire('key-2')).toBeDefined();

    const waiting = b.leases.waitFor('key-1', far());
    await eventually(() => b.leases.waiting === 1, 'B waits');
    await held.release();
    expect(await waiting).toBe('released');
    expect(await b.leases.acquire('key-1')).toBeDefined();
  });

  it('is renewed while held, so a slow fetch keeps it past its lifetime', async () => {
    const [a, b] = [await replica(), await replica()];
    const held = (await a.leases.acquire('slow'))!;
    await eventually(() => held.renewals >= 4, 'several renewals, past the lifetime');
    expect(await b.leases.acquire('slow')).toBeUndefined();
    expect(held.lost).toBe(false);
    await held.release();
  });

  it("replaces a dead holder: its lease lapses, a waiter finds the key free by polling and takes it", async () => {
    const dead = await replica();
    const survivor = await replica({ pollMs: 50 });
    expect(await dead.leases.acquire('orphan')).toBeDefined();
    // The holder's process dies: no renewal, no release, no announcement.
    await dead.connection.close();
    expect(await survivor.leases.waitFor('orphan', far())).toBe('free');
    expect(await survivor.leases.acquire('orphan')).toBeDefined();
  });

  it("stops at the waiter's deadline or when it goes away", async () => {
    const [a, b] = [await replica(), await replica({ pollMs: 50 })];
    const held = (await a.leases.acquire('busy'))!;
    expect(await b.leases.waitFor('busy', { signal: new AbortController().signal, deadline: Date.now() + 100 })).toBe('deadline');
    const controller = new AbortController();
    const waiting = b.leases.waitFor('busy', { signal: controller.signal, deadline: Date.now() + 20_000 });
    controller.abort();
    expect(await waiting).toBe('deadline');
    expect(b.leases.waiting).toBe(0);
    await held.release();
  });

  it('a holder whose lease lapsed and was taken over knows it has lost it, and its release leaves the new holder alone', async () => {
    const [a, b] = [await replica(), await replica()];
    const first = (await a.leases.acquire('stolen'))!;
    // Another holder's lease replaces this one behind its back (as after a long pause of A).
    redis.cli('SET', `${PREFIX}lease:stolen`, 'someone-else', 'PX', '60000');
    await eventually(() => first.lost, 'A notices at its next renewal');
    await first.release();
    expect(redis.cli('GET', `${PREFIX}lease:stolen`)).toBe('someone-else');
    expect(await b.leases.acquire('stolen')).toBeUndefined();
  });

  it('says "unavailable" when Redis cannot answer, so the caller fetches on its own', async () => {
    const { leases, connection } = await replica();
    redis.pause();
    await expect(leases.acquire('any')).rejects.toThrow();
    expect(await leases.waitFor('any', far())).toBe('unavailable');
    redis.resume();
    await eventually(() => connection.health.up, 'back');
  });

  it('closes while Redis hangs: shutdown does not wait on a subscription Redis never confirms', async () => {
    const { leases, connection } = await replica();
    // Subscribed: a waiter has listened for announcements.
    expect(await leases.waitFor('nobody-holds-this', far())).toBe('free');
    redis.pause();
    try {
      // Before the fix this never settled, and a replica's shutdown ended on its backstop (exit 1).
      // Raced against a wait ten times the store timeout only so that a hang fails this test
      // (and resumes Redis for the others) instead of the whole file's hooks.
      const hang = new AbortController();
      const outcome = await Promise.race([
        leases.close().then(() => 'closed'),
        systemClock.sleep(10 * TEST_STORE_TIMEOUT_MS, hang.signal).then(() => 'still waiting on Redis', () => 'aborted'),
      ]);
      hang.abort();
      expect(outcome).toBe('closed');
      await connection.close();
    } finally {
      redis.resume();
    }
  });

  it('keeps every lease key under the prefix with a TTL', async () => {
    const { leases } = await replica();
    const held = (await leases.acquire('ttl'))!;
    const ttl = Number(redis.cli('PTTL', `${PREFIX}lease:ttl`));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(TTL_MS);
    await held.release();
  });
});
