import type { Clock } from './clock.ts';
import type { Endpoint } from './http/reply.ts';

/**
 * Datadog-style rate limits: a budget of `limit` requests per calendar-aligned period of
 * `periodS` seconds, per (API key, limit name). Every answer of a limited endpoint carries the
 * `X-RateLimit-*` headers; once the budget is spent the endpoint answers 429 until the period
 * rolls over.
 */

export interface RateLimit {
  limit: number;
  periodS: number;
}

/**
 * Defaults: spans search and spans aggregate 300/h are Datadog's documented limits; logs search,
 * logs aggregate 300/h and metrics 1600/h are of the order real orgs see (Datadog documents no
 * number for them; clients must read the headers).
 */
export const DEFAULT_RATE_LIMITS: Readonly<Record<Endpoint, RateLimit>> = {
  logs: { limit: 300, periodS: 3_600 },
  spans: { limit: 300, periodS: 3_600 },
  metrics: { limit: 1_600, periodS: 3_600 },
  logs_aggregate: { limit: 300, periodS: 3_600 },
  spans_aggregate: { limit: 300, periodS: 3_600 },
};

/** `X-RateLimit-Name` of each family: the aggregates are budgets of their own. */
export const RATE_LIMIT_NAMES: Readonly<Record<Endpoint, string>> = {
  logs: 'logs_list',
  spans: 'spans_list',
  metrics: 'query',
  logs_aggregate: 'logs_aggregate',
  spans_aggregate: 'spans_aggregate',
};

/** Distinct (key, family) buckets kept; beyond it the oldest is forgotten (fresh budget). */
const MAX_BUCKETS = 10_000;

interface Bucket {
  periodStartMs: number;
  used: number;
}

export interface RateDecision {
  allowed: boolean;
  headers: Record<string, string>;
}

export class RateLimiter {
  readonly #clock: Clock;
  readonly #limits: Record<Endpoint, RateLimit>;
  readonly #buckets = new Map<string, Bucket>();

  constructor(clock: Clock, overrides: Partial<Record<Endpoint, RateLimit>> = {}) {
    this.#clock = clock;
    this.#limits = { ...DEFAULT_RATE_LIMITS };
    for (const [endpoint, limit] of Object.entries(overrides) as Array<[Endpoint, RateLimit | undefined]>) {
      if (limit) this.set(endpoint, limit);
    }
  }

  /** Changes a family's limit and forgets what was spent under the old one. */
  set(endpoint: Endpoint, limit: RateLimit): void {
    if (!Number.isInteger(limit.limit) || limit.limit < 0) throw new TypeError(`rate limit for ${endpoint} must be a non-negative integer`);
    if (!Number.isInteger(limit.periodS) || limit.periodS < 1) throw new TypeError(`rate limit period for ${endpoint} must be a positive integer`);
    this.#limits[endpoint] = { limit: limit.limit, periodS: limit.periodS };
    for (const key of [...this.#buckets.keys()]) if (key.startsWith(`${endpoint}\u0000`)) this.#buckets.delete(key);
  }

  get(endpoint: Endpoint): RateLimit {
    return { ...this.#limits[endpoint] };
  }

  /** Spends one request of `apiKey`'s budget if any is left. */
  take(endpoint: Endpoint, apiKey: string): RateDecision {
    const bucket = this.#bucket(endpoint, apiKey);
    const { limit } = this.#limits[endpoint];
    const allowed = bucket.used < limit;
    if (allowed) bucket.used++;
    return { allowed, headers: this.#headers(endpoint, bucket) };
  }

  /** The headers as they stand, without spending anything. */
  peek(endpoint: Endpoint, apiKey: string): Record<string, string> {
    return this.#headers(endpoint, this.#bucket(endpoint, apiKey));
  }

  remaining(endpoint: Endpoint, apiKey: string): number {
    return Math.max(0, this.#limits[endpoint].limit - this.#bucket(endpoint, apiKey).used);
  }

  /** Spends the whole current period's budget of `apiKey`. */
  exhaust(endpoint: Endpoint, apiKey: string): void {
    this.#bucket(endpoint, apiKey).used = this.#limits[endpoint].limit;
  }

  /** Forgets all spending. */
  reset(): void {
    this.#buckets.clear();
  }

  /** Seconds until the current period of `endpoint` ends (at least 1). */
  resetSeconds(endpoint: Endpoint): number {
    const periodMs = this.#limits[endpoint].periodS * 1000;
    const now = this.#clock.now();
    const end = Math.floor(now / periodMs) * periodMs + periodMs;
    return Math.max(1, Math.ceil((end - now) / 1000));
  }

  #bucket(endpoint: Endpoint, apiKey: string): Bucket {
    const periodMs = this.#limits[endpoint].periodS * 1000;
    const periodStartMs = Math.floor(this.#clock.now() / periodMs) * periodMs;
    const key = `${endpoint}\u0000${apiKey}`;
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      if (this.#buckets.size >= MAX_BUCKETS) this.#buckets.delete(this.#buckets.keys().next().value!);
      bucket = { periodStartMs, used: 0 };
      this.#buckets.set(key, bucket);
    } else if (bucket.periodStartMs !== periodStartMs) {
      bucket.periodStartMs = periodStartMs;
      bucket.used = 0;
    }
    return bucket;
  }

  #headers(endpoint: Endpoint, bucket: Bucket): Record<string, string> {
    const { limit, periodS } = this.#limits[endpoint];
    return {
      'X-RateLimit-Limit': String(limit),
      'X-RateLimit-Period': String(periodS),
      'X-RateLimit-Remaining': String(Math.max(0, limit - bucket.used)),
      'X-RateLimit-Reset': String(this.resetSeconds(endpoint)),
      'X-RateLimit-Name': RATE_LIMIT_NAMES[endpoint],
    };
  }
}
