import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.ts';
import { storeConfig, storeSchema } from '../../src/config/store.ts';
import { createRedisConnection, type RedisConnection } from '../../src/redis/connection.ts';
import { createRedisShareLedger } from '../../src/redis/share-ledger.ts';
import { noTelemetry } from '../../src/telemetry/telemetry.ts';
import { ACTIVE_KEY_WINDOW_MS } from '../../src/upstream/fair-share.ts';
import { eventually } from '../helpers/eventually.ts';
import { startTestRedis, TEST_STORE_TIMEOUT_MS, type TestRedis } from '../helpers/redis-server.ts';

/** The fair share's ledger on a real Redis: the in-memory ledger's contract, across replicas. */

const PREFIX = 'share-test:';
let redis: TestRedis;
const connections: RedisConnection[] = [];

async function replica() {
  const connection = createRedisConnection(storeConfig(redis.url, storeSchema.parse({ key_prefix: PREFIX, timeout_ms: TEST_STORE_TIMEOUT_MS }))!, {
    log: pino({ level: 'silent' }),
    telemetry: noTelemetry,
    clock: systemClock,
  });
  connections.push(connection);
  await eventually(() => connection.health.up, 'connected');
  return createRedisShareLedger(connection, systemClock);
}

beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  for (const connection of connections) await connection.close();
  await redis.close();
});

describe('the Redis share ledger', () => {
  it('adds up each (limit, period, key) apart across replicas, gives calls back, never below 0', async () => {
    const [a, b] = [await replica(), await replica()];
    const until = Date.now() + 60_000;
    const slot = { limit: 'limit:o|k|name:logs_list', period: 7, key: 'a' };
    expect(await a.addSpend(slot, 1, until)).toBe(1);
    expect(await b.addSpend(slot, 1, until)).toBe(2);
    expect(await b.addSpend({ ...slot, key: 'b' }, 1, until)).toBe(1);
    expect(await a.addSpend({ ...slot, period: 8 }, 1, until)).toBe(1);
    expect(await a.addSpend(slot, -1, until)).toBe(1);
    expect(await a.addSpend({ ...slot, key: 'c' }, -1, until)).toBe(0);
    expect(await a.addSpend({ ...slot, key: 'c' }, 1, until)).toBe(1);
  });

  it('forgets a slot after its time, and keeps every key under the prefix with a TTL', async () => {
    const ledger = await replica();
    const slot = { limit: 'short', period: 1, key: 'a' };
    expect(await ledger.addSpend(slot, 3, Date.now() + 200)).toBe(3);
    await eventually(() => redis.cli('EXISTS', `${PREFIX}share:short|1|a`) === '0', 'the slot lapses');
    expect(await ledger.addSpend(slot, 1, Date.now() + 200)).toBe(1);
    await ledger.addSpend({ ...slot, limit: 'long' }, 1, Date.now() + 60_000);
    await ledger.noteActive('a', Date.now());
    const keys = redis.cli('KEYS', '*').split('\n').filter(Boolean);
    expect(keys).toContain(`${PREFIX}share:active`);
    for (const key of keys) {
      expect(key.startsWith(PREFIX), key).toBe(true);
      expect(Number(redis.cli('PTTL', key)), key).toBeGreaterThan(0);
    }
  });

  it('tells whether a key other than the asking one was active since a time, whichever replica saw it', async () => {
    redis.cli('DEL', `${PREFIX}share:active`);
    const [a, b] = [await replica(), await replica()];
    const now = Date.now();
    expect(await a.othersActiveSince('a', 0)).toBe(false);
    await a.noteActive('a', now);
    expect(await b.othersActiveSince('a', 0)).toBe(false);
    expect(await b.othersActiveSince('b', now)).toBe(true);
    await b.noteActive('b', now + 10);
    await a.noteActive('c', now + 20);
    await b.noteActive('c', now + 30);
    // A late note never moves a key back in time.
    await a.noteActive('c', now + 5);
    expect(await a.othersActiveSince('c', now + 10)).toBe(true);
    expect(await a.othersActiveSince('c', now + 11)).toBe(false);
    expect(await b.othersActiveSince('b', now + 30)).toBe(true);
  });

  it('forgets activity older than twice the window, so the set stays small', async () => {
    redis.cli('DEL', `${PREFIX}share:active`);
    const ledger = await replica();
    const now = Date.now();
    await ledger.noteActive('old', now - 3 * ACTIVE_KEY_WINDOW_MS);
    await ledger.noteActive('new', now);
    expect(redis.cli('ZRANGE', `${PREFIX}share:active`, '0', '-1')).toBe('new');
  });
});
