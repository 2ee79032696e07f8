import type { SharedQuotaCounter } from '../http/quota.ts';
import type { RedisConnection } from './connection.ts';
import { defineScript } from './script.ts';

/**
 * Per-caller quota counts on Redis, so a key's quota holds across replicas rather than once per
 * replica. The same fixed window as the in-process count (http/quota.ts): it starts with the
 * caller's first request and the key expires with it. One script, so the count and its expiry
 * are set together (a key without a TTL would outlive every window).
 */
const INCREMENT = defineScript(
  'tinkrQuotaIncrement',
  `
  local current = redis.call('INCR', KEYS[1])
  if current == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[1])
    ttl = tonumber(ARGV[1])
  end
  return { current, ttl }
  `,
  1,
);

export function createRedisQuotaCounter(connection: RedisConnection): SharedQuotaCounter {
  return {
    async increment(key, windowMs) {
      const [current, ttl] = (await connection.run((redis) => INCREMENT(redis, [`${connection.prefix}quota:${key}`], [Math.max(1, Math.ceil(windowMs))]))) as [number, number];
      return { current: Number(current), ttl: Number(ttl) };
    },
  };
}
