import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.ts';
import { storeConfig, storeSchema } from '../../src/config/store.ts';
import { createRedisConnection, type RedisConnection } from '../../src/redis/connection.ts';
import { CURSOR_KEY_TTL_MS, createSharedCursorKeys, type SharedCursorKeys } from '../../src/redis/cursor-keys.ts';
import { createCursorCodec, type CursorState } from '../../src/signals/cursor.ts';
import { noTelemetry } from '../../src/telemetry/telemetry.ts';
import { capturedLog } from '../helpers/captured-log.ts';
import { eventually } from '../helpers/eventually.ts';
import { startTestRedis, TEST_STORE_TIMEOUT_MS, type TestRedis } from '../helpers/redis-server.ts';

/** The cursor signing key shared through a real Redis, and the rule for cursors signed while it was not known. */

const PREFIX = 'cursor-test:';
let redis: TestRedis;
const parts: Array<{ connection: RedisConnection; keys: SharedCursorKeys }> = [];

async function replica(options: { waitUp?: boolean } = {}) {
  const log = capturedLog();
  const connection = createRedisConnection(storeConfig(redis.url, storeSchema.parse({ key_prefix: PREFIX, timeout_ms: TEST_STORE_TIMEOUT_MS }))!, { log: log.logger, telemetry: noTelemetry, clock: systemClock });
  const keys = createSharedCursorKeys(connection, { clock: systemClock, log: log.logger });
  parts.push({ connection, keys });
  await connection.settled(5_000);
  if (options.waitUp ?? true) await eventually(() => connection.health.up, 'connected');
  await keys.refresh();
  return { connection, keys, codec: createCursorCodec(keys, systemClock), log };
}

const STATE: CursorState = { kind: 'logs', fingerprint: 'fp', fromMs: 1, toMs: 2, stepMs: 0, after: 'datadog-cursor' };
const decodes = (codec: ReturnType<typeof createCursorCodec>, token: string) => {
  try {
    return codec.decode(token, 'logs', 'fp').after === 'datadog-cursor';
  } catch {
    return false;
  }
};

beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  for (const { keys, connection } of parts) {
    keys.close();
    await connection.close();
  }
  await redis.close();
});

describe('the shared cursor key', () => {
  it('is one key for every replica: a cursor from A verifies on B; it lives under the prefix with a TTL', async () => {
    const [a, b] = [await replica(), await replica()];
    expect(a.keys.shared && b.keys.shared).toBe(true);
    expect(Buffer.compare(a.keys.signing(), b.keys.signing())).toBe(0);
    expect(decodes(b.codec, a.codec.encode(STATE))).toBe(true);
    const ttl = Number(redis.cli('PTTL', `${PREFIX}cursor-key`));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(CURSOR_KEY_TTL_MS);
  });

  it('a replica that starts while Redis is down signs with its own key, keeps accepting it, and adopts the shared key when Redis is back', async () => {
    const a = await replica();
    await redis.kill();
    const late = await replica({ waitUp: false });
    expect(late.keys.shared).toBe(false);
    const early = late.codec.encode(STATE);
    expect(decodes(late.codec, early)).toBe(true);
    expect(decodes(a.codec, early)).toBe(false);
    // A keeps signing with the shared key it has in memory: its cursors still cross.
    const fromA = a.codec.encode(STATE);

    await redis.restart();
    // Redis restarted empty: the first replica to look creates a new key, the others adopt it.
    await eventually(() => late.keys.shared, 'the late replica reads the shared key', 15_000);
    // A re-reads the key as soon as its own connection is back.
    await eventually(() => Buffer.compare(a.keys.signing(), late.keys.signing()) === 0, 'A adopts the new key', 15_000);
    expect(decodes(a.codec, late.codec.encode(STATE))).toBe(true);
    expect(decodes(late.codec, early)).toBe(true);
    // A's cursor signed with the key from before the restart still verifies on A (previous key).
    expect(decodes(a.codec, fromA)).toBe(true);
    expect(a.log.lines().some((l) => String(l.msg).startsWith('the shared cursor key changed'))).toBe(true);
  });
});
