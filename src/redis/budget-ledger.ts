import { randomUUID } from 'node:crypto';
import type { Family } from '../upstream-call.ts';
import type { BudgetLedger, LimitSnapshot } from '../upstream/budget-ledger.ts';
import type { LimitState, Ticket } from '../upstream/budget.ts';
import type { RedisConnection } from './connection.ts';
import { defineScript } from './script.ts';

/**
 * The budget ledger on Redis, shared by every replica (upstream/budget-ledger.ts has the
 * contract). Per limit: the state as JSON (`budget:<limit>`, with the TTL the gate gives it),
 * and the calls in flight as a sorted set of reservations scored by their expiry
 * (`budget:<limit>:flight`), so a replica that dies mid-call stops holding budget once its
 * caller's deadline has passed. Reading, reserving and replacing are each one Lua script, so a
 * compare and its write are atomic across replicas. Times are the replicas' clocks (epoch ms).
 */

/** Reads the state and the live reservations together, dropping expired ones. */
const READ = defineScript(
  'tinkrBudgetRead',
  `
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
  return { redis.call('GET', KEYS[1]) or '', redis.call('ZCARD', KEYS[2]) }
  `,
  2,
);

/** ARGV: version, most in flight, now, expires at, reservation id. {1} or {0, state, in flight}. */
const RESERVE = defineScript(
  'tinkrBudgetReserve',
  `
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
  local state = redis.call('GET', KEYS[1]) or ''
  local inFlight = redis.call('ZCARD', KEYS[2])
  if state ~= ARGV[1] or inFlight > tonumber(ARGV[2]) then return { 0, state, inFlight } end
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
  local ttl = tonumber(ARGV[4]) - tonumber(ARGV[3])
  if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
  return { 1 }
  `,
  2,
);

/** ARGV: version, new state, TTL ms, now. {1} or {0, state, in flight}. */
const REPLACE = defineScript(
  'tinkrBudgetReplace',
  `
  local state = redis.call('GET', KEYS[1]) or ''
  if state ~= ARGV[1] then
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
    return { 0, state, redis.call('ZCARD', KEYS[2]) }
  end
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return { 1 }
  `,
  2,
);

/**
 * Longest a reservation is kept, whatever deadline it comes with: past any request deadline
 * (`request_timeout_ms` is at most ten minutes), and short enough to stay a valid Redis TTL.
 */
const MAX_RESERVATION_MS = 15 * 60_000;

function snapshotOf(text: unknown, inFlight: unknown): LimitSnapshot {
  const version = typeof text === 'string' ? text : '';
  let state: LimitState | undefined;
  try {
    state = version ? (JSON.parse(version) as LimitState) : undefined;
  } catch {
    state = undefined;
  }
  return { state, inFlight: Number(inFlight) || 0, version };
}

export function createRedisLedger(connection: RedisConnection): BudgetLedger {
  const keys = (limit: string) => [`${connection.prefix}budget:${limit}`, `${connection.prefix}budget:${limit}:flight`];
  const nameKey = (base: string, family: Family) => `${connection.prefix}budget:name:${base}|${family}`;

  function reservation(flightKey: string, id: string): Ticket {
    let released = false;
    return {
      release() {
        if (released) return;
        released = true;
        // If this is lost, the reservation expires at its deadline instead.
        connection.tidy((redis) => redis.zrem(flightKey, id));
      },
    };
  }

  return {
    async limitName(base, family) {
      const name = await connection.run((redis) => redis.get(nameKey(base, family)));
      return name ?? undefined;
    },
    async learnLimitName(base, family, name, ttlMs) {
      await connection.run((redis) => redis.set(nameKey(base, family), name, 'PX', Math.max(1, Math.ceil(ttlMs))));
    },
    async read(limit, now) {
      const [text, inFlight] = (await connection.run((redis) => READ(redis, keys(limit), [Math.floor(now)]))) as [string, number];
      return snapshotOf(text, inFlight);
    },
    async reserve(limit, version, maxInFlight, now, expiresAt) {
      const id = randomUUID();
      const [flightKey] = keys(limit).slice(1);
      const answer = (await connection.run((redis) =>
        RESERVE(redis, keys(limit), [version, Math.min(maxInFlight, Number.MAX_SAFE_INTEGER), Math.floor(now), Math.ceil(Math.min(expiresAt, now + MAX_RESERVATION_MS)), id]),
      )) as [number, string?, number?];
      if (answer[0] === 1) return { reserved: reservation(flightKey!, id) };
      return { snapshot: snapshotOf(answer[1], answer[2]) };
    },
    async replace(limit, version, state, ttlMs, now) {
      const answer = (await connection.run((redis) =>
        REPLACE(redis, keys(limit), [version, JSON.stringify(state), Math.max(1, Math.ceil(ttlMs)), Math.floor(now)]),
      )) as [number, string?, number?];
      if (answer[0] === 1) return { replaced: true };
      return { snapshot: snapshotOf(answer[1], answer[2]) };
    },
  };
}
