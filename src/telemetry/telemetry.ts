import type { KeyStatus } from '../boot/key-check.ts';
import type { Family, RateLimitInfo } from '../upstream-call.ts';
import type { CacheStatus } from '../upstream/types.ts';

/** Why a request was answered 503 without being served (see http/load-shedding.ts). */
export type ShedReason = 'event_loop_delay' | 'heap_used' | 'rss' | 'shutting_down';

/** One HTTP exchange with a caller, as the server saw it. */
export interface HttpExchange {
  method: string;
  /** The route pattern (`/traces/:trace_id`), never the raw URL; `unmatched` for a 404 on no route. */
  route: string;
  /** The status sent, or `aborted` when the caller went away before the answer was complete. */
  status: number | 'aborted';
  durationMs: number;
}

/**
 * What the server reports about itself. The Prometheus exporter implements it; tests and the
 * default build use `noTelemetry`. Calls must be cheap and must never throw.
 */
export interface Telemetry {
  /** A caller's request entered the server; `httpRequestEnded` follows exactly once. */
  httpRequestStarted(): void;
  httpRequestEnded(exchange: HttpExchange): void;
  /** A request answered 503 by load shedding instead of being served. */
  requestShed(reason: ShedReason): void;
  /** One HTTP exchange with Datadog; `outcome` is the status code, or `timeout` / `error`. */
  upstreamCall(family: Family, outcome: number | 'timeout' | 'error', durationMs: number): void;
  /** The `X-RateLimit-*` headers of an answer. */
  rateLimit(info: RateLimitInfo): void;
  /** How a query route's answer was obtained. */
  cacheOutcome(family: Family, status: CacheStatus): void;
  /**
   * A background refresh of an answer served stale (stale-while-revalidate): `refreshed`, held
   * back by the budget (`denied`), or `failed`.
   */
  cacheRefresh(family: Family, outcome: CacheRefreshOutcome): void;
  /**
   * The budget gate held a call back: it `waited` for a reset and then sent, kept the `reserve`
   * or `paced` the budget by answering from the cache, found the budget `exhausted` (stale
   * answer or 429), or found the caller's key past its `share` (stale answer or 429).
   */
  budgetGate(family: Family, outcome: BudgetGateOutcome): void;
  /**
   * A call to Datadog the gate let through, spent by the key `subject` (fair share,
   * upstream/fair-share.ts). Subjects come from the configured keys, so their number is bounded.
   */
  upstreamSpend(subject: string, family: Family): void;
  /** A secret re-fetch and how it ended. */
  secretsRefresh(outcome: 'changed' | 'unchanged' | 'failed'): void;
  /**
   * How one replica's flight for an answer was served with a shared store (upstream/fleet-flight.ts):
   * this replica `produced` it under the fleet-wide lease, `read` another replica's answer from
   * the shared cache, `took_over` a holder that died or kept nothing, or produced it `alone`
   * (the store could not answer). Never called without a store.
   */
  fleetFlight(family: Family, outcome: FleetFlightOutcome): void;
  /** The shared store (Redis) is up, or degraded; never called when none is configured. */
  storeUp(up: boolean): void;
  /** The live tail after a change: streams polling, and subscribers connected or joining. */
  tailStreams(streams: number, subscribers: number): void;
  /** One poll of a live tail and how it ended. */
  tailPoll(outcome: TailPollOutcome): void;
  /** Events written to live-tail subscribers, counted once per subscriber. */
  tailEvents(kind: 'log' | 'warning', count: number): void;
  /** The Datadog key check reached a new status (boot/key-check.ts). */
  keysStatus(status: KeyStatus): void;
}

/**
 * `ok`: answered; `held`: the budget gate spread it out (pacing, reserve), asked again later;
 * `rate_limited`: the budget or the key's share is spent, or Datadog answered 429; `failed`:
 * anything else.
 */
export type TailPollOutcome = 'ok' | 'held' | 'rate_limited' | 'failed';

export type BudgetGateOutcome = 'waited' | 'reserve' | 'paced' | 'exhausted' | 'share';
export type CacheRefreshOutcome = 'refreshed' | 'denied' | 'failed';
export type FleetFlightOutcome = 'produced' | 'read' | 'took_over' | 'alone';

export const noTelemetry: Telemetry = {
  httpRequestStarted: () => {},
  httpRequestEnded: () => {},
  requestShed: () => {},
  upstreamCall: () => {},
  rateLimit: () => {},
  cacheOutcome: () => {},
  cacheRefresh: () => {},
  fleetFlight: () => {},
  budgetGate: () => {},
  upstreamSpend: () => {},
  secretsRefresh: () => {},
  storeUp: () => {},
  tailStreams: () => {},
  tailPoll: () => {},
  tailEvents: () => {},
  keysStatus: () => {},
};
