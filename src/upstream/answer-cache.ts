import { hash } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { timeSpecKey, type TimeRange } from '../time/range.ts';
import type { AnswerQuery } from './answer.ts';
import { stepFor, type StepTable } from '../time/buckets.ts';
import type { Store } from './store.ts';

/**
 * Finished answers, kept as the bytes that were sent. An entry is fresh for a while (a `hit`);
 * then, for as long again, it is served `stale` while one background refresh runs (no caller
 * waits at a bucket roll); and it is kept longer still as a fallback for when the budget is
 * spent. How long depends on the range (see `lifetimes`). Entries are plain data (a Buffer and
 * numbers), so a shared store can hold them.
 */

export interface CacheOptions {
  enabled: boolean;
  /** The bucket table; a live range is fresh for one step of its length. */
  steps: StepTable;
  /** Data older than this no longer changes at Datadog. */
  ingestionDelayMs: number;
  /** How long an answer about such settled data is fresh. */
  immutableTtlMs: number;
  /** How long any answer is kept to be served stale when Datadog cannot be asked. */
  maxStaleMs: number;
  /** Memory bounds of the default in-memory store. */
  maxBytes: number;
  maxEntries: number;
}

/**
 * Late data: Datadog accepts metric points up to about 10 minutes late, and log and span
 * pipelines rarely lag longer; a range that ended before that no longer changes.
 */
export const DEFAULT_INGESTION_DELAY_MS = 10 * 60_000;
/**
 * Settled data cannot change, but an hour bounds the harm of anything that arrived later than
 * the ingestion delay (and frees memory for live panels).
 */
export const DEFAULT_IMMUTABLE_TTL_MS = 60 * 60_000;
/** Datadog's budgets reset hourly; a stale answer can bridge a whole spent period. */
export const DEFAULT_MAX_STALE_MS = 60 * 60_000;
/**
 * 64 MiB of finished answers, counted as what they cost (bytes plus per-entry overhead): with
 * the rest of the server (~100 MB), RSS stays under 384 MiB whatever the mix of queries, so a
 * 512 MiB container keeps its headroom, while holding thousands of dashboard panels.
 */
export const DEFAULT_CACHE_MAX_BYTES = 64 * 1024 * 1024;
/** Bounds the per-entry overhead of many tiny answers (empty searches, single series). */
export const DEFAULT_CACHE_MAX_ENTRIES = 20_000;
/**
 * What an entry costs beyond its bytes and its key's characters: the entry and store objects,
 * the Buffer object and its backing store's bookkeeping, the key string's header, the map and
 * LRU slots. Measured at 300–570 bytes an entry, key included, on Node 24: the more when V8 has
 * not optimized the code that made them (test/upstream/entry-cost.test.ts checks the count
 * never falls below what entries cost, in either case).
 */
export const ENTRY_OVERHEAD_BYTES = 576;

/** One kept answer. */
export interface CachedAnswer {
  /** The response body exactly as sent. */
  bytes: Buffer;
  /** When Datadog gave (the oldest part of) it, epoch ms. */
  fetchedAt: number;
  /** A `hit` until then. */
  freshUntil: number;
  /** Served `stale` while one refresh runs, until then. */
  revalidateUntil: number;
}

/** What the store holds: answers, and for relative ranges a pointer to a series' newest answer. */
export type CacheRecord = CachedAnswer | { latest: string };

export interface CacheKeys {
  key: string;
  /** For relative ranges: the key shared by every bucket of one panel (worked out when first needed). */
  series?: () => string;
}

export interface CacheLookup {
  /** The answer kept under this very key, fresh or not. */
  exact?: CachedAnswer;
  /** Without one: the newest answer to an earlier bucket of the same panel. */
  latest?: CachedAnswer;
}

export interface Lifetimes {
  freshMs: number;
  /** How long after freshness the answer is served while it is refreshed. */
  revalidateMs: number;
  /** How long the entry is kept in all. */
  keepMs: number;
}

export interface AnswerCache {
  readonly enabled: boolean;
  keys(query: AnswerQuery, range: TimeRange, partition: string, origin: string): CacheKeys;
  lookup(keys: CacheKeys): Promise<CacheLookup>;
  lifetimes(range: TimeRange, fetchedAt: number): Lifetimes;
  /** Keeps a finished answer until `keptUntil`. */
  store(keys: CacheKeys, entry: CachedAnswer, keptUntil: number): Promise<void>;
}

/**
 * The store's size of a record: what it really costs in memory (its bytes, its key, a fixed
 * overhead), not an estimate of an object graph.
 */
export function recordBytes(storeKey: string, record: CacheRecord): number {
  return ('bytes' in record ? record.bytes.length : record.latest.length) + storeKey.length + ENTRY_OVERHEAD_BYTES;
}

function hashKey(parts: unknown[]): string {
  return hash('sha256', JSON.stringify(parts), 'base64url');
}

export function createAnswerCache(options: CacheOptions, store: Store<CacheRecord>, clock: Clock): AnswerCache {
  const keep = (storeKey: string, record: CacheRecord, ttlMs: number) => store.set(storeKey, record, { ttlMs, bytes: recordBytes(storeKey, record) });

  async function answer(key: string): Promise<CachedAnswer | undefined> {
    const record = await store.get(`c:${key}`);
    return record && 'bytes' in record ? record : undefined;
  }

  return {
    enabled: options.enabled,

    /**
     * Hashes (a store may be shared, logged or inspected, so nothing a caller wrote appears in a
     * key verbatim) of the Datadog account, the caller's partition, the route, the identity and
     * the time: the spec as written (so `since=15m` and an equal absolute range stay apart) and
     * the range it resolved to. The series leaves the range out: every bucket of one panel.
     */
    keys(query, range, partition, origin) {
      const spec = timeSpecKey(query.time);
      const key = hashKey([origin, partition, query.route, query.identity, spec, range.fromMs, range.toMs]);
      if (!range.relative) return { key };
      // A hit never needs it: hashed on first use.
      let series: string | undefined;
      return { key, series: () => (series ??= hashKey([origin, partition, query.route, query.identity, spec])) };
    },

    async lookup(keys) {
      if (!options.enabled) return {};
      const exact = await answer(keys.key);
      if (exact || !keys.series) return exact ? { exact } : {};
      const pointer = await store.get(`s:${keys.series()}`);
      const latest = pointer && 'latest' in pointer ? await answer(pointer.latest) : undefined;
      return latest ? { latest } : {};
    },

    lifetimes(range, fetchedAt) {
      let freshMs: number;
      if (range.toMs <= fetchedAt - options.ingestionDelayMs) freshMs = options.immutableTtlMs;
      else freshMs = stepFor(range.toMs - range.fromMs, options.steps);
      // One more step past freshness (docs/budget-and-caching.md); settled data, one more freshness period.
      const revalidateMs = freshMs;
      return { freshMs, revalidateMs, keepMs: Math.max(freshMs + revalidateMs, options.maxStaleMs) };
    },

    async store(keys, entry, keptUntil) {
      if (!options.enabled) return;
      const ttlMs = keptUntil - clock.now();
      await keep(`c:${keys.key}`, entry, ttlMs);
      if (keys.series) await keep(`s:${keys.series()}`, { latest: keys.key }, ttlMs);
    },
  };
}
