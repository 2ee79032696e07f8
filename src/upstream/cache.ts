import type { Clock } from '../clock.ts';
import { requestKey } from './key.ts';
import { stepFor, type StepTable } from './step.ts';
import type { Store } from './store.ts';
import type { UpstreamReply, UpstreamRequest } from './types.ts';

/**
 * Datadog's answers, kept by request. An entry is fresh for a while (then served as a `hit`),
 * and kept longer still as a fallback: when the budget is spent, a clearly marked `stale`
 * answer beats a 429. How long depends on the range (see `lifetimes`).
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
 * 64 MiB of JSON text. Parsed, answers take about two to three times that in heap, which keeps
 * the cache well inside a 512 MiB container while holding thousands of dashboard panels.
 */
export const DEFAULT_CACHE_MAX_BYTES = 64 * 1024 * 1024;
/** Bounds the per-entry overhead of many tiny answers (empty searches, single series). */
export const DEFAULT_CACHE_MAX_ENTRIES = 20_000;
/** Freshness of an answer whose request carried no range (none do today; a safe floor). */
const UNWINDOWED_FRESH_MS = 10_000;

/** One kept answer. */
export interface CachedAnswer {
  body: unknown;
  fetchedAt: number;
  freshUntil: number;
  /** The range the answer covers (the request's window). */
  window?: { fromMs: number; toMs: number };
}

/** What the store holds: answers, and for relative ranges a pointer to a series' newest answer. */
export type CacheRecord = CachedAnswer | { latest: string };

export interface CacheLookup {
  /** A fresh answer to this very request. */
  fresh?: CachedAnswer;
  /** The newest answer to this request or to an earlier bucket of the same panel, fresh or not. */
  fallback?: CachedAnswer;
}

export interface CacheKeys {
  key: string;
  /** Set for relative ranges: shared by every bucket of one panel. */
  series?: string;
}

export interface ResponseCache {
  keys(request: UpstreamRequest, partition: string, origin: string): CacheKeys;
  lookup(keys: CacheKeys): Promise<CacheLookup>;
  /** Keeps a fresh answer from Datadog. */
  store(keys: CacheKeys, request: UpstreamRequest, reply: UpstreamReply): Promise<void>;
}

export function createResponseCache(options: CacheOptions, store: Store<CacheRecord>, clock: Clock): ResponseCache {
  /** How long an answer about `request` is fresh, and how long it is kept in all. */
  function lifetimes(request: UpstreamRequest, fetchedAt: number): { freshMs: number; keepMs: number } {
    const window = request.window;
    let freshMs: number;
    if (!window) freshMs = UNWINDOWED_FRESH_MS;
    else if (window.toMs <= fetchedAt - options.ingestionDelayMs) freshMs = options.immutableTtlMs;
    else freshMs = stepFor(window.toMs - window.fromMs, options.steps);
    return { freshMs, keepMs: Math.max(freshMs, options.maxStaleMs) };
  }

  async function answer(key: string): Promise<CachedAnswer | undefined> {
    const record = await store.get(`c:${key}`);
    return record && 'body' in record ? record : undefined;
  }

  return {
    keys(request, partition, origin) {
      const key = requestKey(request, partition, origin);
      const series = request.window?.series;
      return series ? { key, series: requestKey(series, partition, origin) } : { key };
    },

    async lookup(keys) {
      if (!options.enabled) return {};
      const exact = await answer(keys.key);
      if (exact && clock.now() < exact.freshUntil) return { fresh: exact, fallback: exact };
      if (exact || !keys.series) return exact ? { fallback: exact } : {};
      const pointer = await store.get(`s:${keys.series}`);
      const latest = pointer && 'latest' in pointer ? await answer(pointer.latest) : undefined;
      return latest ? { fallback: latest } : {};
    },

    async store(keys, request, reply) {
      if (!options.enabled) return;
      const { freshMs, keepMs } = lifetimes(request, reply.fetchedAt);
      const entry: CachedAnswer = { body: reply.body, fetchedAt: reply.fetchedAt, freshUntil: reply.fetchedAt + freshMs };
      if (request.window) entry.window = { fromMs: request.window.fromMs, toMs: request.window.toMs };
      const bytes = reply.bytes ?? JSON.stringify(reply.body).length;
      await store.set(`c:${keys.key}`, entry, { ttlMs: keepMs, bytes: bytes + keys.key.length });
      if (keys.series) await store.set(`s:${keys.series}`, { latest: keys.key }, { ttlMs: keepMs });
    },
  };
}
