import type { CacheRecord } from '../upstream/answer-cache.ts';
import type { Store } from '../upstream/store.ts';
import { framedCodec } from './codec.ts';
import type { RedisConnection } from './connection.ts';
import type { StoreHealth } from './health.ts';
import { createRedisStore, type RedisStore } from './store.ts';

/**
 * The finished-answer cache shared by the replicas (DESIGN §7): answers and series pointers in
 * Redis under `<prefix>cache:`, each with the TTL the engine gives it (how long the answer may
 * still be served, stale included) and at most DEFAULT_MAX_VALUE_BYTES (redis/store.ts). Next to
 * it, the replica's own in-process store (bounded by `upstream.cache.max_bytes`) holds what
 * cannot be shared: answers over the size cap, and answers made while Redis was degraded.
 *
 * Reads go to Redis first (what another replica kept is as good as one's own), then to the
 * local store, so an answer kept locally during an outage is served until its TTL, and an
 * answer shared since wins over it. A failed or slow Redis call (each bounded by `timeout_ms`)
 * is a miss or a local write, never an error. Entries are the bytes that were sent, framed with
 * their timestamps (codec.ts): nothing is parsed on a hit, and nothing secret is kept (keys are
 * hashes, answers are what callers of that partition may read).
 */
export function createSharedCacheStore(
  shared: RedisStore<CacheRecord>,
  local: Store<CacheRecord> & { readonly size?: number; readonly bytes?: number },
  health: Pick<StoreHealth, 'up'>,
): Store<CacheRecord> & { readonly size: number; readonly bytes: number } {
  return {
    async get(key) {
      if (health.up) {
        try {
          const found = await shared.get(key);
          if (found !== undefined) return found;
        } catch {
          // A miss in Redis: the local store may still have it.
        }
      }
      return local.get(key);
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
      // Shared: a local copy would only take memory (reads go to Redis first). Not shared: kept here.
      if (kept) await local.delete(key);
      else await local.set(key, value, options);
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

/** The shared cache on `connection`: Redis under `<prefix>cache:`, the local store beside it. */
export function sharedCacheStore(connection: RedisConnection, local: Store<CacheRecord>): Store<CacheRecord> & { readonly size: number; readonly bytes: number } {
  return createSharedCacheStore(createRedisStore<CacheRecord>(connection, { namespace: 'cache:', codec: framedCodec() }), local, connection.health);
}
