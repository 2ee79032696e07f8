import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.ts';

/**
 * Where the cache and the budget keep what must outlive one request. The in-memory store is the
 * default; a shared store (Redis, Memcached) implementing this interface lets several replicas
 * share cached answers and what they learned about Datadog's budget, without any change to the
 * layers above. Asynchronous for that reason. Implementations must never throw for a missing
 * key, and should treat their own failures as a miss (the server then asks Datadog).
 */
export interface Store<V> {
  get(key: string): Promise<V | undefined>;
  /** Keeps `value` for `ttlMs`; `bytes` is its size, for stores bounded by memory. */
  set(key: string, value: V, options: { ttlMs: number; bytes?: number }): Promise<void>;
  delete(key: string): Promise<void>;
}

export interface MemoryStoreOptions {
  /** Upper bound of the summed `bytes` of all values. */
  maxBytes: number;
  /** Upper bound of the number of values, whatever their size. */
  maxEntries: number;
  clock: Clock;
}

/** Counted for a value stored without a size: small records (budget state, pointers). */
const DEFAULT_VALUE_BYTES = 256;

interface Held<V> {
  value: V;
  expiresAt: number;
}

/**
 * A least-recently-used map bounded by bytes and by count, with per-value expiry on the
 * server's Clock (so tests move time exactly). A value larger than `maxBytes` is not kept.
 */
export function createMemoryStore<V>(options: MemoryStoreOptions): Store<V> & { readonly size: number; readonly bytes: number } {
  const lru = new LRUCache<string, Held<V>>({
    max: options.maxEntries,
    maxSize: options.maxBytes,
    // Expiry is also checked on read with the Clock; this lets lru-cache drop expired values
    // first when it needs room, on the same notion of time.
    ttlAutopurge: false,
    ttlResolution: 0,
    perf: { now: () => options.clock.now() },
  });
  return {
    async get(key) {
      const held = lru.get(key);
      if (!held) return undefined;
      if (held.expiresAt <= options.clock.now()) {
        lru.delete(key);
        return undefined;
      }
      return held.value;
    },
    async set(key, value, { ttlMs, bytes }) {
      if (ttlMs <= 0) {
        lru.delete(key);
        return;
      }
      const size = Math.max(1, Math.ceil(bytes ?? DEFAULT_VALUE_BYTES));
      if (size > options.maxBytes) {
        lru.delete(key);
        return;
      }
      lru.set(key, { value, expiresAt: options.clock.now() + ttlMs }, { ttl: ttlMs, size });
    },
    async delete(key) {
      lru.delete(key);
    },
    get size() {
      return lru.size;
    },
    get bytes() {
      return lru.calculatedSize;
    },
  };
}
