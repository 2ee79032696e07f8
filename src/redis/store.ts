import type { Store } from '../upstream/store.ts';
import type { Codec } from './codec.ts';
import type { RedisConnection } from './connection.ts';

/**
 * `Store<V>` on the shared Redis: one key per value, under `key_prefix` and the store's own
 * namespace, each with a TTL (a store never grows without bound, whatever the callers do).
 * Values pass through a codec. A failure throws (`run` rejects at once while Redis is degraded);
 * wrap it in `createFallbackStore` so a failure becomes the in-process store's answer.
 *
 * Nothing secret goes in: callers name values by hashes (upstream/key.ts) and store answers and
 * budget state, never a Datadog key or a caller's token.
 */

/**
 * Largest encoded value kept in Redis. A page of 1,000 log events with rich attributes is about
 * 2 MB; past 4 MiB a single value stalls Redis's one thread for milliseconds on every read and
 * costs every replica that much network per hit, so such rare answers stay in process instead.
 */
export const DEFAULT_MAX_VALUE_BYTES = 4 * 1024 * 1024;

export interface RedisStoreOptions<V> {
  /** Namespace under the key prefix, e.g. `cache:`. */
  namespace: string;
  codec: Codec<V>;
  maxValueBytes?: number;
}

export interface RedisStore<V> extends Store<V> {
  /** `set`, saying whether the value was kept (not when over the size cap, or with a TTL of zero). */
  put(key: string, value: V, options: { ttlMs: number; bytes?: number }): Promise<boolean>;
}

export function createRedisStore<V>(connection: RedisConnection, options: RedisStoreOptions<V>): RedisStore<V> {
  const maxValueBytes = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
  const full = (key: string) => `${connection.prefix}${options.namespace}${key}`;
  const put: RedisStore<V>['put'] = async (key, value, { ttlMs }) => {
    const ttl = Math.ceil(ttlMs);
    const bytes = ttl > 0 ? options.codec.encode(value) : undefined;
    if (!bytes || bytes.length > maxValueBytes) {
      // Not kept: and an older value must not be served in its place.
      await connection.run((redis) => redis.del(full(key)));
      return false;
    }
    await connection.run((redis) => redis.set(full(key), bytes, 'PX', ttl));
    return true;
  };
  return {
    async get(key) {
      const bytes = await connection.run((redis) => redis.getBuffer(full(key)));
      return bytes ? options.codec.decode(bytes) : undefined;
    },
    put,
    async set(key, value, options) {
      await put(key, value, options);
    },
    async delete(key) {
      await connection.run((redis) => redis.del(full(key)));
    },
  };
}
