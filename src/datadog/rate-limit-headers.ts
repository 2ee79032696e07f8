/** Datadog's `X-RateLimit-*` headers of one answer (datadog-api.md §0 "Rate limits"). */
export interface RateLimitInfo {
  name: string;
  limit: number;
  periodS: number;
  remaining: number;
  /** Seconds until the period resets. */
  resetS: number;
}

/** The headers' values, or undefined when the answer carried none (or nonsense). */
export function readRateLimit(headers: Readonly<Record<string, string | undefined>>): RateLimitInfo | undefined {
  const limit = toInt(headers['x-ratelimit-limit']);
  const remaining = toInt(headers['x-ratelimit-remaining']);
  const resetS = toInt(headers['x-ratelimit-reset']);
  if (limit === undefined || remaining === undefined || resetS === undefined) return undefined;
  return {
    name: (headers['x-ratelimit-name'] ?? 'unnamed').slice(0, 100),
    limit,
    periodS: toInt(headers['x-ratelimit-period']) ?? 0,
    remaining,
    resetS,
  };
}

function toInt(value: string | undefined): number | undefined {
  if (value === undefined || !/^\s*\d{1,12}\s*$/.test(value)) return undefined;
  return Number(value);
}

/** Seconds a caller should wait after a 429: `X-RateLimit-Reset`, else `Retry-After`, else a minute. */
export function retryAfterSeconds(headers: Readonly<Record<string, string | undefined>>): number {
  const reset = readRateLimit(headers)?.resetS ?? toInt(headers['x-ratelimit-reset']);
  if (reset !== undefined) return Math.max(1, reset);
  const retryAfter = toInt(headers['retry-after']);
  return retryAfter !== undefined ? Math.max(1, retryAfter) : DEFAULT_RETRY_AFTER_S;
}

/** Used when Datadog sends a 429 without saying when to come back. */
export const DEFAULT_RETRY_AFTER_S = 60;
