import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.ts';
import { storeConfig, storeSchema } from '../../src/config/store.ts';
import { sharedCacheStore } from '../../src/redis/cache-store.ts';
import { createRedisConnection, type RedisConnection } from '../../src/redis/connection.ts';
import { createCacheLeases, type CacheLeases } from '../../src/redis/lease.ts';
import { noTelemetry, type CacheRefreshOutcome, type Telemetry } from '../../src/telemetry/telemetry.ts';
import type { UpstreamReply } from '../../src/upstream-call.ts';
import type { CacheRecord } from '../../src/upstream/answer-cache.ts';
import type { AnswerQuery, Engine } from '../../src/upstream/answer.ts';
import { createEngine } from '../../src/upstream/engine.ts';
import { DEFAULT_UPSTREAM_POLICY } from '../../src/upstream/pipeline.ts';
import { createMemoryStore } from '../../src/upstream/store.ts';
import type { CallContext, Upstream } from '../../src/upstream/types.ts';
import { eventually } from '../helpers/eventually.ts';
import { ManualClock } from '../helpers/manual-clock.ts';
import { startTestRedis, TEST_STORE_TIMEOUT_MS, type TestRedis } from '../helpers/redis-server.ts';

/**
 * Three engines, as three replicas hold them, sharing one real Redis (the answer cache and the
 * leases) in front of one Datadog call answered by hand: one production per answer in the whole
 * fleet, at a miss and at a bucket roll's background refresh. The engines' time is a manual
 * clock set to the wall clock (lease lifetimes and Redis TTLs are real time).
 */

const PREFIX = 'fleet-engine-test:';
const TIMEOUT_MS = 20_000;
let redis: TestRedis;
const connections: RedisConnection[] = [];
const leaseSets: CacheLeases[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
});
afterEach(async () => {
  for (const leases of leaseSets.splice(0)) await leases.close();
  for (const connection of connections.splice(0)) await connection.close();
  redis.cli('FLUSHALL');
});
afterAll(async () => {
  await redis.close();
});

/** One Datadog for the fleet: every call waits until the test answers it. */
function handDatadog() {
  const pending: Array<{ resolve: (reply: UpstreamReply) => void }> = [];
  let calls = 0;
  const upstream: Upstream = {
    send(_request, ctx) {
      calls++;
      return new Promise((resolve, reject) => {
        pending.push({ resolve });
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
      });
    },
  };
  return {
    upstream,
    get calls() {
      return calls;
    },
    answerNext(clock: ManualClock, body: unknown) {
      pending.shift()!.resolve({ body, fetchedAt: clock.now() });
    },
    get pending() {
      return pending.length;
    },
  };
}

async function replica(clock: ManualClock, datadog: ReturnType<typeof handDatadog>, refreshes: Array<[string, CacheRefreshOutcome]>): Promise<Engine> {
  const connection = createRedisConnection(storeConfig(redis.url, storeSchema.parse({ key_prefix: PREFIX, timeout_ms: TEST_STORE_TIMEOUT_MS }))!, {
    log: pino({ level: 'silent' }),
    telemetry: noTelemetry,
    clock: systemClock,
  });
  connections.push(connection);
  await eventually(() => connection.health.up, 'connected');
  const leases = createCacheLeases(connection, { clock: systemClock });
  leaseSets.push(leases);
  const telemetry: Telemetry = { ...noTelemetry, cacheRefresh: (family, outcome) => refreshes.push([family, outcome]) };
  return createEngine({
    upstream: datadog.upstream,
    clock,
    telemetry,
    cache: DEFAULT_UPSTREAM_POLICY.cache,
    store: sharedCacheStore(connection, createMemoryStore<CacheRecord>({ maxBytes: 1 << 20, maxEntries: 100, clock }), clock),
    leases,
    origin: () => 'origin',
    requestTimeoutMs: TIMEOUT_MS,
    maxPacedAgeMs: DEFAULT_UPSTREAM_POLICY.budget.maxPacedAgeMs,
  });
}

async function fleet(clock: ManualClock, datadog: ReturnType<typeof handDatadog>) {
  const refreshes: Array<[string, CacheRefreshOutcome]> = [];
  const engines = [await replica(clock, datadog, refreshes), await replica(clock, datadog, refreshes), await replica(clock, datadog, refreshes)];
  return { engines, refreshes };
}

const caller = (clock: ManualClock): CallContext => ({
  signal: new AbortController().signal,
  deadline: clock.now() + TIMEOUT_MS,
  noCache: false,
  partition: '',
  stats: { upstreamCalls: 0 },
});

/** The last 15 minutes of checkout logs: a live panel, fresh for one 10 s step. */
const panel: AnswerQuery = {
  family: 'logs',
  route: 'test',
  identity: ['checkout'],
  time: { kind: 'instants', from: { kind: 'relative', offsetMs: 15 * 60_000 }, to: { kind: 'relative', offsetMs: 0 } },
  maxRangeMs: 24 * 3_600_000,
  async produce(range, io) {
    const reply = await io.fetch({ family: 'logs', method: 'POST', path: '/api/v2/logs/events/search', body: {} });
    return { said: reply.body, to: range.toMs };
  },
};

const text = (bytes: Buffer) => bytes.toString('utf8');

describe('engines of three replicas on one Redis', () => {
  it('make one Datadog call for the same answer asked on all three at once', async () => {
    const clock = new ManualClock(Date.now());
    const datadog = handDatadog();
    const { engines } = await fleet(clock, datadog);
    const answers = engines.flatMap((engine) => [engine.answer(panel, caller(clock)), engine.answer(panel, caller(clock))]);
    await eventually(() => datadog.pending === 1, 'one replica calls Datadog');
    // The others wait for its lease, not Datadog (they had time to call it, had they been free to).
    await eventually(() => engines.every((e) => e.inspect().flights === 1), 'every replica has its flight');
    expect(datadog.calls).toBe(1);
    datadog.answerNext(clock, { n: 1 });
    const got = await Promise.all(answers);
    expect(new Set(got.map((a) => text(a.bytes))).size).toBe(1);
    expect(got.map((a) => a.cache).sort()).toEqual(['coalesced', 'coalesced', 'coalesced', 'coalesced', 'coalesced', 'miss']);
    expect(datadog.calls).toBe(1);
    // Then a hit everywhere.
    for (const engine of engines) expect((await engine.answer(panel, caller(clock))).cache).toBe('hit');
    expect(redis.cli('KEYS', `${PREFIX}lease:*`)).toBe('');
  });

  it('refresh an out-of-date answer once for the whole fleet at a bucket roll', async () => {
    const clock = new ManualClock(Date.now());
    const datadog = handDatadog();
    const { engines, refreshes } = await fleet(clock, datadog);
    const first = engines[0]!.answer(panel, caller(clock));
    await eventually(() => datadog.pending === 1, 'the first call');
    datadog.answerNext(clock, { n: 1 });
    const firstText = text((await first).bytes);
    for (const engine of engines) expect((await engine.answer(panel, caller(clock))).cache).toMatch(/^(miss|hit)$/);
    expect(datadog.calls).toBe(1);

    // The next 10 s bucket: every replica serves the old answer and starts a background refresh.
    clock.advance(10_000);
    for (const engine of engines) {
      const stale = await engine.answer(panel, caller(clock));
      expect(stale.cache).toBe('stale');
      expect(text(stale.bytes)).toBe(firstText);
    }
    await eventually(() => datadog.pending === 1, 'one refresh calls Datadog');
    await eventually(() => engines.every((e) => e.inspect().refreshes === 1), 'every replica runs its refresh');
    expect(datadog.calls).toBe(2);
    datadog.answerNext(clock, { n: 2 });
    await eventually(() => engines.every((e) => e.inspect().refreshes === 0), 'every refresh is over');
    expect(refreshes).toEqual([['logs', 'refreshed'], ['logs', 'refreshed'], ['logs', 'refreshed']]);
    for (const engine of engines) {
      const fresh = await engine.answer(panel, caller(clock));
      expect(fresh.cache).toBe('hit');
      expect(text(fresh.bytes)).toContain('"n":2');
    }
    expect(datadog.calls).toBe(2);
  });
});
