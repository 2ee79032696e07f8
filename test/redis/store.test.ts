import fc from 'fast-check';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.ts';
import { storeConfig, storeSchema } from '../../src/config/store.ts';
import { framedCodec, jsonCodec } from '../../src/redis/codec.ts';
import { createRedisConnection, type RedisConnection } from '../../src/redis/connection.ts';
import { createFallbackStore } from '../../src/redis/fallback.ts';
import { createRedisStore } from '../../src/redis/store.ts';
import { noTelemetry } from '../../src/telemetry/telemetry.ts';
import { createMemoryStore } from '../../src/upstream/store.ts';
import { eventually } from '../helpers/eventually.ts';
import { startTestRedis, TEST_STORE_TIMEOUT_MS, type TestRedis } from '../helpers/redis-server.ts';

/**
 * `Store<V>` on a real Redis: values through a codec (JSON records today, entries carrying the
 * answer as bytes for the cache), every key under the prefix with a TTL, a size cap, and a
 * fallback to the in-process store that never fails a call.
 */

const PREFIX = 'store-test:';
let redis: TestRedis;
let connection: RedisConnection;

beforeAll(async () => {
  redis = await startTestRedis();
  connection = createRedisConnection(storeConfig(redis.url, storeSchema.parse({ key_prefix: PREFIX, timeout_ms: TEST_STORE_TIMEOUT_MS }))!, {
    log: pino({ level: 'silent' }),
    telemetry: noTelemetry,
    clock: systemClock,
  });
  await eventually(() => connection.health.up, 'connected');
});
afterAll(async () => {
  await connection.close();
  await redis.close();
});

/** The shape the cache will keep (issue 13): the finished answer as bytes, plus metadata. */
interface Entry {
  body: Buffer;
  contentType: string;
  fetchedAt: number;
  freshUntil: number;
  window?: { fromMs: number; toMs: number };
  warnings: Array<{ code: string }>;
}

describe('codecs', () => {
  it('framedCodec carries Buffers as raw bytes and everything else as JSON, at any depth', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), fc.uint8Array({ maxLength: 64 }), fc.jsonValue(), (body, extra, meta) => {
        const codec = framedCodec<{ body: Buffer; meta: unknown; nested: { extra: Buffer } }>();
        const value = { body: Buffer.from(body), meta, nested: { extra: Buffer.from(extra) } };
        const bytes = codec.encode(value);
        // Raw bytes: the frame is about as large as the buffers plus the JSON, not a third more.
        expect(bytes.length).toBeLessThan(body.length + extra.length + JSON.stringify(meta ?? null).length + 100);
        const back = codec.decode(bytes)!;
        expect(Buffer.compare(back.body, value.body)).toBe(0);
        expect(Buffer.compare(back.nested.extra, value.nested.extra)).toBe(0);
        expect(back.meta).toEqual(JSON.parse(JSON.stringify(meta)));
      }),
    );
  });

  it('decodes what it does not recognise as a miss, never an exception', () => {
    const framed = framedCodec<unknown>();
    for (const junk of [Buffer.alloc(0), Buffer.from('{"a":1}'), Buffer.from([1, 0, 0, 0, 200, 0x7b])]) expect(framed.decode(junk)).toBeUndefined();
    expect(framed.decode(Buffer.from([1, 0, 0, 0, 2, 0x7b, 0x7d]))).toEqual({});
    // Another format version: a miss.
    expect(framed.decode(Buffer.from([2, 0, 0, 0, 2, 0x7b, 0x7d]))).toBeUndefined();
    const slotPastEnd = framed.encode({ b: Buffer.from('abc') }).subarray(0, -1);
    expect(framed.decode(slotPastEnd)).toBeUndefined();
    expect(jsonCodec().decode(Buffer.from('{not json'))).toBeUndefined();
  });
});

describe('the Redis store', () => {
  it('keeps cache entries with their bytes, under the prefix, each with a TTL', async () => {
    const store = createRedisStore<Entry>(connection, { namespace: 'cache:', codec: framedCodec() });
    const entry: Entry = { body: Buffer.from('{"data":[1,2,3]}'), contentType: 'application/json', fetchedAt: 1, freshUntil: 2, window: { fromMs: 0, toMs: 1 }, warnings: [] };
    await store.set('abc', entry, { ttlMs: 60_000, bytes: entry.body.length });
    const back = (await store.get('abc'))!;
    expect(back.body.toString()).toBe('{"data":[1,2,3]}');
    expect({ ...back, body: undefined }).toEqual({ ...entry, body: undefined });
    expect(await store.get('missing')).toBeUndefined();
    const ttl = Number(redis.cli('PTTL', `${PREFIX}cache:abc`));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
    await store.delete('abc');
    expect(await store.get('abc')).toBeUndefined();
  });

  it('keeps nothing past the size cap, and drops what was there under that key', async () => {
    const store = createRedisStore<{ text: string }>(connection, { namespace: 'capped:', codec: jsonCodec(), maxValueBytes: 100 });
    await store.set('k', { text: 'small' }, { ttlMs: 60_000 });
    expect(await store.get('k')).toEqual({ text: 'small' });
    await store.set('k', { text: 'x'.repeat(200) }, { ttlMs: 60_000 });
    expect(await store.get('k')).toBeUndefined();
    expect(redis.cli('EXISTS', `${PREFIX}capped:k`)).toBe('0');
  });

  it('treats a TTL of zero as "do not keep"', async () => {
    const store = createRedisStore<number>(connection, { namespace: 'zero:', codec: jsonCodec() });
    await store.set('k', 1, { ttlMs: 60_000 });
    await store.set('k', 2, { ttlMs: 0 });
    expect(await store.get('k')).toBeUndefined();
  });
});

describe('the fallback store', () => {
  it('uses Redis while it is up, the in-process store while it is paused or down, and Redis again after', async () => {
    const local = createMemoryStore<string>({ maxBytes: 1 << 20, maxEntries: 100, clock: systemClock });
    const shared = createRedisStore<string>(connection, { namespace: 'fallback:', codec: jsonCodec() });
    const store = createFallbackStore(shared, local, connection.health);
    await store.set('a', 'in redis', { ttlMs: 60_000 });
    expect(await local.get('a')).toBeUndefined();

    redis.pause();
    // The first call waits out timeout_ms and falls back; later ones go straight to the local store.
    expect(await store.get('a')).toBeUndefined();
    expect(connection.health.up).toBe(false);
    await store.set('b', 'local', { ttlMs: 60_000 });
    expect(await store.get('b')).toBe('local');
    await store.delete('b');
    expect(await store.get('b')).toBeUndefined();

    redis.resume();
    await eventually(() => connection.health.up, 'the store is back');
    expect(await store.get('a')).toBe('in redis');
  });
});
