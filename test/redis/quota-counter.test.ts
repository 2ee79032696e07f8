import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/auth/keyring.ts';
import { systemClock } from '../../src/clock.ts';
import { storeConfig, storeSchema } from '../../src/config/store.ts';
import { createRedisConnection, type RedisConnection } from '../../src/redis/connection.ts';
import { createRedisQuotaCounter } from '../../src/redis/quota-counter.ts';
import { noTelemetry } from '../../src/telemetry/telemetry.ts';
import { startApp, type TestApp } from '../helpers/app.ts';
import { eventually } from '../helpers/eventually.ts';
import { startTestRedis, TEST_STORE_TIMEOUT_MS, type TestRedis } from '../helpers/redis-server.ts';

/** Per-caller quota counts on a real Redis, through the real server, and in process while Redis is away. */

const PREFIX = 'quota-test:';
const TOKEN = 'quota-counter-token';
const KEYS = [{ hash: sha256Hex(TOKEN), subject: 'q', roles: ['viewer' as const], quota: { requests: 3, per: '1h' } }];
let redis: TestRedis;
let connection: RedisConnection;
const apps: TestApp[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
  connection = createRedisConnection(storeConfig(redis.url, storeSchema.parse({ key_prefix: PREFIX, timeout_ms: TEST_STORE_TIMEOUT_MS }))!, {
    log: pino({ level: 'silent' }),
    telemetry: noTelemetry,
    clock: systemClock,
  });
  await eventually(() => connection.health.up, 'connected');
});
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
  redis.resume();
  await eventually(() => connection.health.up, 'connected again', 15_000);
  redis.cli('FLUSHALL');
});
afterAll(async () => {
  await connection.close();
  await redis.close();
});

async function replica(): Promise<TestApp> {
  const app = await startApp({ auth: { mode: 'keys', keys: KEYS }, quotaCounter: createRedisQuotaCounter(connection) });
  apps.push(app);
  return app;
}
// Refused by validation, so only the quota is at work; counted like any request.
const ask = (app: TestApp) => app.get('/logs?since=bogus', { headers: { authorization: `Bearer ${TOKEN}` } });

describe('the Redis quota counter', () => {
  it('counts one window per key in Redis, under the prefix, expiring with the window', async () => {
    const counter = createRedisQuotaCounter(connection);
    expect(await counter.increment('key:abc', 60_000)).toMatchObject({ current: 1 });
    const second = await counter.increment('key:abc', 60_000);
    expect(second.current).toBe(2);
    expect(second.ttl).toBeGreaterThan(0);
    expect(second.ttl).toBeLessThanOrEqual(60_000);
    expect(redis.cli('GET', `${PREFIX}quota:key:abc`)).toBe('2');
    expect(Number(redis.cli('PTTL', `${PREFIX}quota:key:abc`))).toBeGreaterThan(0);
  });

  it('holds one quota across two servers, with the remaining count in the headers', async () => {
    const [a, b] = [await replica(), await replica()];
    const answers = [await ask(a), await ask(b), await ask(a), await ask(b)];
    expect(answers.map((r) => r.status)).toEqual([400, 400, 400, 429]);
    expect(answers.map((r) => r.headers.get('x-ratelimit-remaining'))).toEqual(['2', '1', '0', '0']);
  });

  it('counts in process while Redis is hung, so the quota still holds on each server, and never fails a request', async () => {
    const app = await replica();
    redis.pause();
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await ask(app)).status);
    expect(statuses).toEqual([400, 400, 400, 429, 429]);
  });
});
