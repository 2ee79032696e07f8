import type { Clock } from '../clock.ts';
import { ACTIVE_KEY_WINDOW_MS, type ShareLedger } from '../upstream/fair-share.ts';
import type { RedisConnection } from './connection.ts';
import { defineScript } from './script.ts';

/**
 * The fair share's ledger on Redis (upstream/fair-share.ts has the contract), so a key's share
 * of the budget holds across replicas: one counter per (limit, period, key) and one sorted set
 * of keys by the time of their last request. Times are the replicas' clocks; TTLs are sent
 * relative to them, so Redis's own clock never matters.
 */

/** ARGV: calls, TTL ms. Adds, never below 0, and keeps the key at least that long. */
const ADD_SPEND = defineScript(
  'tinkrShareAdd',
  `
  local total = redis.call('INCRBY', KEYS[1], ARGV[1])
  if total < 0 then
    redis.call('SET', KEYS[1], 0, 'KEEPTTL')
    total = 0
  end
  local ttl = tonumber(ARGV[2])
  if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
  return total
  `,
  1,
);

/** ARGV: key, at, forget before, TTL ms. The set holds only keys active within the window. */
const NOTE_ACTIVE = defineScript(
  'tinkrShareActive',
  `
  local at = tonumber(ARGV[2])
  local before = redis.call('ZSCORE', KEYS[1], ARGV[1])
  if not before or tonumber(before) < at then redis.call('ZADD', KEYS[1], at, ARGV[1]) end
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return 1
  `,
  1,
);

/** Twice the activity window: what is older says nothing about "active in the last five minutes". */
const ACTIVITY_KEEP_MS = 2 * ACTIVE_KEY_WINDOW_MS;

export function createRedisShareLedger(connection: RedisConnection, clock: Clock): ShareLedger {
  const activity = `${connection.prefix}share:active`;
  return {
    async addSpend(slot, calls, untilMs) {
      const key = `${connection.prefix}share:${slot.limit}|${slot.period}|${slot.key}`;
      const ttl = Math.max(1, Math.ceil(untilMs - clock.now()));
      return Number(await connection.run((redis) => ADD_SPEND(redis, [key], [calls, ttl])));
    },
    async noteActive(key, atMs) {
      await connection.run((redis) => NOTE_ACTIVE(redis, [activity], [key, atMs, atMs - ACTIVITY_KEEP_MS, ACTIVITY_KEEP_MS]));
    },
    async othersActiveSince(key, sinceMs) {
      // The two most recent keys since then: one of them is another key if any is.
      const recent = await connection.run((redis) => redis.zrevrangebyscore(activity, '+inf', sinceMs, 'LIMIT', 0, 2));
      return recent.some((member) => member !== key);
    },
  };
}
