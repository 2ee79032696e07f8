import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.ts';
import { AppError } from '../errors.ts';
import { formatDuration } from '../time/duration.ts';

/**
 * Per-caller request quotas (docs/http-api.md#errors `RATE_LIMITED`): each key gets its own count per fixed
 * window, so one noisy dashboard spends its own quota, not the Datadog budget everyone shares.
 * @fastify/rate-limit does the hook, the headers and the refusal; the counting lives in
 * `ClockStore` below, because the plugin's own store reads `Date.now()` and ours must follow
 * the injected Clock.
 *
 * Counted under the caller's non-secret `keyId`, never the token; with `auth.mode = "none"`
 * under the client address. Public routes (no caller) and keys with `quota = "off"` are exempt.
 *
 * With several replicas the count lives in the shared store (`shared`), so a quota holds across
 * them; when that store cannot answer (degraded, or a call past its timeout) the request is
 * counted in process instead, never refused or failed for it: each replica then allows up to
 * the quota on its own until the store is back.
 */

/**
 * Most callers whose counts are kept. Keys come from the config, so this is only reached with
 * `auth.mode = "none"` and many client addresses; the least recently seen count is dropped,
 * which can only loosen that caller's quota, never tighten another's.
 */
export const MAX_QUOTA_ENTRIES = 10_000;

/** A count every replica shares; rejects when it cannot answer (the count is then kept locally). */
export interface SharedQuotaCounter {
  increment(key: string, windowMs: number): Promise<{ current: number; ttl: number }>;
}

export interface QuotaOptions {
  clock: Clock;
  /** Counts kept at once; MAX_QUOTA_ENTRIES unless a test wants it small. */
  maxEntries?: number;
  /** The shared count (redis/quota-counter.ts); in process only when absent. */
  shared?: SharedQuotaCounter | undefined;
}

interface Window {
  count: number;
  startedAt: number;
}

type IncrCallback = (error: Error | null, result: { current: number; ttl: number }) => void;

/** The store interface @fastify/rate-limit calls: `incr`, `read` and `child`. */
class ClockStore {
  readonly #clock: Clock;
  readonly #windows: LRUCache<string, Window>;
  readonly #shared: SharedQuotaCounter | undefined;

  constructor(clock: Clock, maxEntries: number, shared: SharedQuotaCounter | undefined) {
    this.#clock = clock;
    this.#windows = new LRUCache({ max: maxEntries });
    this.#shared = shared;
  }

  incr(key: string, callback: IncrCallback, windowMs: number): void {
    if (!this.#shared) return this.#incrLocal(key, callback, windowMs);
    this.#shared.increment(key, windowMs).then(
      (counted) => callback(null, counted),
      () => this.#incrLocal(key, callback, windowMs),
    );
  }

  #incrLocal(key: string, callback: IncrCallback, windowMs: number): void {
    const now = this.#clock.now();
    let window = this.#windows.get(key);
    if (!window || window.startedAt + windowMs <= now) {
      window = { count: 0, startedAt: now };
      this.#windows.set(key, window);
    }
    window.count++;
    callback(null, { current: window.count, ttl: window.startedAt + windowMs - now });
  }

  /** Only the plugin's `increment: false` option reads, and this server does not use it. */
  read(key: string, callback: IncrCallback, windowMs: number): void {
    const now = this.#clock.now();
    const window = this.#windows.get(key);
    if (!window || window.startedAt + windowMs <= now) callback(null, { current: 0, ttl: 0 });
    else callback(null, { current: window.count, ttl: window.startedAt + windowMs - now });
  }

  child(): ClockStore {
    return this;
  }
}

/** The key a request is counted under. The plugin asks before allowList exempts public routes. */
function quotaKey(request: FastifyRequest): string {
  const caller = request.caller as FastifyRequest['caller'] | null;
  if (!caller) return 'public';
  return caller.keyId === 'anonymous' ? `ip:${request.ip}` : `key:${caller.keyId}`;
}

export const quotas = fp<QuotaOptions>(
  async (app: FastifyInstance, options) => {
    const maxEntries = options.maxEntries ?? MAX_QUOTA_ENTRIES;
    // The plugin constructs its store itself, with its own options; this one is bound to ours.
    class BoundStore extends ClockStore {
      constructor() {
        super(options.clock, maxEntries, options.shared);
      }
    }
    await app.register(fastifyRateLimit, {
      global: true,
      // After authentication (request-context's onRequest runs first), before any work.
      hook: 'onRequest',
      store: BoundStore,
      allowList: (request) => !request.caller || request.caller.quota === undefined,
      keyGenerator: quotaKey,
      max: (request) => request.caller.quota!.requests,
      timeWindow: (request) => request.caller.quota!.windowMs,
      errorResponseBuilder: (request, context) => {
        const quota = request.caller.quota!;
        const retryAfterS = Math.max(1, Math.ceil(context.ttl / 1000));
        return new AppError(
          'RATE_LIMITED',
          `this key's quota of ${quota.requests} requests per ${formatDuration(quota.windowMs)} is used up; retry in ${retryAfterS} s`,
          { retryAfterS },
        );
      },
    });
  },
  { name: 'quotas', dependencies: ['request-context'] },
);
