import type { RateLimitInfo } from './datadog/rate-limit-headers.ts';
import type { CacheStatus, Family } from './upstream/types.ts';

/**
 * What the server reports about itself. The Prometheus exporter implements it; tests and the
 * default build use `noTelemetry`. Calls must be cheap and must never throw.
 */
export interface Telemetry {
  /** One HTTP exchange with Datadog; `outcome` is the status code, or `timeout` / `error`. */
  upstreamCall(family: Family, outcome: number | 'timeout' | 'error', durationMs: number): void;
  /** The `X-RateLimit-*` headers of an answer. */
  rateLimit(info: RateLimitInfo): void;
  /** How a query route's answer was obtained. */
  cacheOutcome(family: Family, status: CacheStatus): void;
  /**
   * The budget gate held a call back: it `waited` for a reset and then sent, kept the `reserve`
   * by answering from the cache, or found the budget `exhausted` (stale answer or 429).
   */
  budgetGate(family: Family, outcome: BudgetGateOutcome): void;
  /** A secret re-fetch and how it ended. */
  secretsRefresh(outcome: 'changed' | 'unchanged' | 'failed'): void;
}

export type BudgetGateOutcome = 'waited' | 'reserve' | 'exhausted';

export const noTelemetry: Telemetry = {
  upstreamCall: () => {},
  rateLimit: () => {},
  cacheOutcome: () => {},
  budgetGate: () => {},
  secretsRefresh: () => {},
};
