import type { Clock } from '../clock.ts';
import { recordBytes, type CachedAnswer, type CacheRecord } from '../upstream/answer-cache.ts';
import type { Store } from '../upstream/store.ts';
import { framedCodec } from './codec.ts';
import type { RedisConnection } from './connection.ts';
import type { StoreHealth } from './health.ts';
import { createRedisStore, type RedisStore } from './store.ts';

/**
 * The finished-answer cache shared by the replicas (docs/replicas.md): answers and series pointers in
 * Redis under `<prefix>cache:`, each with the TTL the engine gives it (how long the answer may
 * still be served, stale included) and at most DEFAULT_MAX_VALUE_BYTES (redis/store.ts). Beside
 * it, the replica's own in-process store (bounded by `upstream.cache.max_bytes`) holds:
 *
 * - what cannot be shared: answers over the size cap, and answers made while Redis was
 *   degraded, each for its whole TTL;
 * - a near copy of each fresh answer it wrote or read, until the answer stops being fresh, so
 *   that repeated hits on one replica cost no Redis round trip. Correct because an entry only
 *   changes when it is refreshed, and a refresh happens once it is no longer fresh (or for a
 *   `no-cache` caller: the other replicas then serve their copy, fresh by the same rules, until
 *   its freshness ends). Pointers are never copied: they change at every bucket roll.
 *
 * A read takes a fresh answer from the local store first; anything else (a pointer, an answer
 * out of date or missing) from Redis, and only when Redis has nothing from the local store (an
 * out-of-date answer kept during an outage is still worth serving stale).
 *
 * `nearCopies: false` keeps none (what cannot be shared is still kept): every hit on a shared answer
 * is then read from Redis. Only the benchmark asks for it (to measure that read); a replica always
 * keeps them.
 *
 * A failed or slow Redis call (each bounded by `timeout_ms`) is a miss or a local write, never
 * an error. Entries are the bytes that were sent, framed with their timestamps (codec.ts):
 * nothing is parsed on a hit, and nothing secret is kept (keys are hashes, answers are what
 * callers of that partition may read).
 */
export interface SharedCacheOptions {
  /** Keep a near copy of each fresh shared answer (default true; false only in the benchmark). */
  nearCopies?: boolean;
}

export function createSharedCacheStore(
  shared: RedisStore<CacheRecord>,
  local: Store<CacheRecord> & { readonly size?: number; readonly bytes?: number },
  health: Pick<StoreHealth, 'up'>,
  clock: Pick<Clock, 'now'>,
  options: SharedCacheOptions = {},
): Store<CacheRecord> & { readonly size: number; readonly bytes: number } {
  const nearCopies = options.nearCopies ?? true;
  const freshFor = (record: CacheRecord | undefined): number => (record !== undefined && 'bytes' in record ? record.freshUntil - clock.now() : 0);

  /** Keeps a near copy of a fresh answer until its freshness ends. */
  function copyNear(key: string, answer: CachedAnswer, ttlMs: number): Promise<void> {
    return local.set(key, answer, { ttlMs: Math.min(ttlMs, freshFor(answer)), bytes: recordBytes(key, answer) });
  }

  return {
    async get(key) {
      const near = await local.get(key);
      if (freshFor(near) > 0) return near;
      if (health.up) {
        try {
          const found = await shared.get(key);
          if (found !== undefined) {
            // Its own bytes: a view of the reply could hold a whole socket read in memory.
            if (nearCopies && 'bytes' in found && freshFor(found) > 0) await copyNear(key, { ...found, bytes: ownBytes(found.bytes) }, Number.POSITIVE_INFINITY);
            return found;
          }
        } catch {
          // A miss in Redis: the local store may still have it.
        }
      }
      return near;
    },
    async set(key, value, options) {
      let kept = false;
      if (health.up) {
        try {
          kept = await shared.put(key, value, options);
        } catch {
          kept = false;
        }
      }
      if (!kept) await local.set(key, value, options);
      else if (nearCopies && 'bytes' in value && freshFor(value) > 0) await copyNear(key, value, options.ttlMs);
      else await local.delete(key);
    },
    async delete(key) {
      if (health.up) await shared.delete(key).catch(() => {});
      await local.delete(key);
    },
    get size() {
      return local.size ?? 0;
    },
    get bytes() {
      return local.bytes ?? 0;
    },
  };
}

/** A copy of `bytes` in a buffer of its own (not Node's shared pool: one kept entry would hold a whole slab). */
function ownBytes(bytes: Buffer): Buffer {
  const copy = Buffer.allocUnsafeSlow(bytes.length);
  bytes.copy(copy);
  return copy;
}

/** The shared cache on `connection`: Redis under `<prefix>cache:`, the local store beside it. */
export function sharedCacheStore(
  connection: RedisConnection,
  local: Store<CacheRecord>,
  clock: Pick<Clock, 'now'>,
  options: SharedCacheOptions = {},
): Store<CacheRecord> & { readonly size: number; readonly bytes: number } {
  return createSharedCacheStore(createRedisStore<CacheRecord>(connection, { namespace: 'cache:', codec: framedCodec() }), local, connection.health, clock, options);
}
