import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.ts';
import { storeConfig, storeSchema } from '../../src/config/store.ts';
import { createRedisLedger } from '../../src/redis/budget-ledger.ts';
import { createRedisConnection, type RedisConnection } from '../../src/redis/connection.ts';
import { createFallbackLedger } from '../../src/redis/fallback.ts';
import { noTelemetry } from '../../src/telemetry/telemetry.ts';
import { createMemoryLedger, versionOf } from '../../src/upstream/budget-ledger.ts';
import { createBudgetGate, type BudgetDenied, type LimitState } from '../../src/upstream/budget.ts';
import { DEFAULT_UPSTREAM_POLICY } from '../../src/upstream/pipeline.ts';
import { eventually } from '../helpers/eventually.ts';
import { startTestRedis, TEST_STORE_TIMEOUT_MS, type TestRedis } from '../helpers/redis-server.ts';

/**
 * The budget ledger on a real Redis, as several replicas use it: each replica has its own
 * connection, and a reservation or a state change is atomic across them.
 */

const NOW = Date.parse('2026-11-25T04:00:00.000Z');
const PREFIX = 'ledger-test:';
let redis: TestRedis;
const replicas: RedisConnection[] = [];

async function replica(): Promise<RedisConnection> {
  const connection = createRedisConnection(storeConfig(redis.url, storeSchema.parse({ key_prefix: PREFIX, timeout_ms: TEST_STORE_TIMEOUT_MS }))!, {
    log: pino({ level: 'silent' }),
    telemetry: noTelemetry,
    clock: systemClock,
  });
  replicas.push(connection);
  await eventually(() => connection.health.up, 'the replica is connected');
  return connection;
}

beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  for (const connection of replicas) await connection.close();
  await redis.close();
});

const state = (remaining: number, limit = 10): LimitState => ({ name: 'logs_list', limit, periodMs: 3_600_000, remaining, resetAtMs: NOW + 600_000, reopenAtMs: NOW + 600_000 });

describe('the Redis budget ledger', () => {
  it('replaces a state only if it is still the one read, and answers with the current one otherwise', async () => {
    const [a, b] = [createRedisLedger(await replica()), createRedisLedger(await replica())];
    const read = await a.read('limit:cas', NOW);
    expect(read).toEqual({ state: undefined, inFlight: 0, version: '' });
    expect(await a.replace('limit:cas', read.version, state(9), 60_000, NOW)).toEqual({ replaced: true });
    // B read nothing too, and is too late.
    const lost = await b.replace('limit:cas', '', state(8), 60_000, NOW);
    expect(lost).toEqual({ snapshot: { state: state(9), inFlight: 0, version: versionOf(state(9)) } });
    expect((await b.read('limit:cas', NOW)).state).toEqual(state(9));
  });

  it('never lets concurrent reservations from three replicas pass the most in flight they were judged for', async () => {
    const ledgers = await Promise.all([replica(), replica(), replica()]).then((cs) => cs.map((c) => createRedisLedger(c)));
    await ledgers[0]!.replace('limit:race', '', state(5), 60_000, NOW);
    const { version } = await ledgers[0]!.read('limit:race', NOW);
    // 30 callers, 10 per replica, all judged "send" with up to 4 others in flight (5 left).
    const outcomes = await Promise.all(Array.from({ length: 30 }, (_, i) => ledgers[i % 3]!.reserve('limit:race', version, 4, NOW, NOW + 30_000)));
    const reserved = outcomes.filter((o) => 'reserved' in o);
    expect(reserved).toHaveLength(5);
    expect((await ledgers[1]!.read('limit:race', NOW)).inFlight).toBe(5);
    for (const outcome of reserved) if ('reserved' in outcome) outcome.reserved.release();
    await eventually(async () => (await ledgers[2]!.read('limit:race', NOW)).inFlight === 0, 'the releases land');
  });

  it("forgets a dead replica's reservation once its deadline has passed", async () => {
    const ledger = createRedisLedger(await replica());
    const outcome = await ledger.reserve('limit:dead', '', 10, NOW, NOW + 30_000);
    expect('reserved' in outcome).toBe(true);
    expect((await ledger.read('limit:dead', NOW + 29_999)).inFlight).toBe(1);
    expect((await ledger.read('limit:dead', NOW + 30_000)).inFlight).toBe(0);
  });

  it('releases a reservation made before Redis hung, once it resumes, without waiting for its expiry', async () => {
    const connection = await replica();
    const ledger = createRedisLedger(connection);
    const outcome = await ledger.reserve('limit:hung', '', 10, NOW, NOW + 30_000);
    if (!('reserved' in outcome)) throw new Error('expected a reservation');
    redis.pause();
    try {
      await expect(ledger.read('limit:hung', NOW)).rejects.toThrow();
      expect(connection.health.up).toBe(false);
      outcome.reserved.release();
    } finally {
      redis.resume();
    }
    await eventually(() => connection.health.up, 'back');
    await eventually(async () => (await ledger.read('limit:hung', NOW)).inFlight === 0, 'the release landed');
  });

  it('keeps every key under the prefix, each with a TTL', async () => {
    const ledger = createRedisLedger(await replica());
    await ledger.learnLimitName('origin|print', 'logs', 'logs_list', 86_400_000);
    await ledger.replace('limit:ttl', '', state(3), 60_000, NOW);
    await ledger.reserve('limit:ttl', versionOf(state(3)), 10, NOW, NOW + 30_000);
    const keys = redis.cli('KEYS', '*').split('\n').filter(Boolean);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      expect(key.startsWith(PREFIX), key).toBe(true);
      expect(Number(redis.cli('PTTL', key)), key).toBeGreaterThan(0);
    }
  });
});

describe('budget gates of three replicas on one Redis', () => {
  const wait = { signal: new AbortController().signal, deadline: NOW + 30_000 };
  const clock = { now: () => NOW, sleep: () => Promise.reject(new Error('no waiting in this test')), after: () => () => {} };
  const gateOf = async () =>
    createBudgetGate({ options: { ...DEFAULT_UPSTREAM_POLICY.budget, maxWaitMs: 0 }, ledger: createRedisLedger(await replica()), clock, telemetry: noTelemetry, origin: 'fleet', random: () => 0 });
  const nothingCached = { hasFallback: false, noCache: false };

  it('one view of the budget: what A saw stops B and C, and calls in flight on A count on B', async () => {
    const [a, b, c] = await Promise.all([gateOf(), gateOf(), gateOf()]);
    await a.observe('logs', 'k1', { name: 'logs_list', limit: 10, periodS: 3600, remaining: 0, resetS: 600 }, 200);
    for (const gate of [b, c]) await expect(gate.acquire('logs', 'k1', wait, nothingCached)).rejects.toMatchObject({ reason: 'exhausted' } satisfies Partial<BudgetDenied>);

    await a.observe('logs', 'k2', { name: 'logs_list', limit: 10, periodS: 3600, remaining: 2, resetS: 600 }, 200);
    const first = await a.acquire('logs', 'k2', wait, nothingCached);
    const second = await b.acquire('logs', 'k2', wait, nothingCached);
    await expect(c.acquire('logs', 'k2', wait, nothingCached)).rejects.toMatchObject({ reason: 'exhausted', retryAfterS: 1 });
    first.release();
    await eventually(async () => {
      try {
        (await c.acquire('logs', 'k2', wait, nothingCached)).release();
        return true;
      } catch {
        return false;
      }
    }, "A's call is answered and C may send");
    second.release();
  });

  it('within a period, Remaining only goes down, whichever replica saw which answer first', async () => {
    const [a, b] = await Promise.all([gateOf(), gateOf()]);
    await a.observe('logs', 'k3', { name: 'logs_list', limit: 10, periodS: 3600, remaining: 4, resetS: 600 }, 200);
    await b.observe('logs', 'k3', { name: 'logs_list', limit: 10, periodS: 3600, remaining: 7, resetS: 600 }, 200);
    expect((await a.state('logs', 'k3'))?.remaining).toBe(4);
  });
});

describe('the fallback ledger', () => {
  it('uses the replica\'s own ledger while Redis is down, and Redis again once it is back', async () => {
    const connection = await replica();
    const ledger = createFallbackLedger(createRedisLedger(connection), createMemoryLedger(systemClock), connection.health);
    await ledger.replace('limit:fallback', '', state(6), 60_000, NOW);
    await redis.kill();
    await eventually(() => !connection.health.up, 'the store is degraded');
    // Local: knows nothing of what Redis held, and never fails.
    expect(await ledger.read('limit:fallback', NOW)).toEqual({ state: undefined, inFlight: 0, version: '' });
    expect(await ledger.replace('limit:fallback', '', state(1), 60_000, NOW)).toEqual({ replaced: true });
    expect((await ledger.read('limit:fallback', NOW)).state).toEqual(state(1));
    await redis.restart();
    await eventually(() => connection.health.up, 'the store is back', 15_000);
    // Redis restarted empty.
    expect((await ledger.read('limit:fallback', NOW)).state).toBeUndefined();
  });
});
