import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { KeyStatus } from '../boot/key-check.ts';
import type { RefreshOutcome } from '../secrets/store.ts';
import type { Family, RateLimitInfo } from '../upstream-call.ts';
import type { CacheStatus } from '../upstream/types.ts';
import type { BudgetGateOutcome, CacheRefreshOutcome, FleetFlightOutcome, HttpExchange, ShedReason, TailPollOutcome, Telemetry } from './telemetry.ts';

/**
 * The Telemetry interface as Prometheus metrics. Each exporter has its own Registry (never
 * prom-client's global one), so several servers can live in one process (tests) without
 * sharing counters. Adding a metric: declare it in `createMetrics`, feed it from one method.
 */

/** HTTP latency buckets: from a cached answer (a few ms) to the default request deadline (30 s) and beyond. */
export const HTTP_DURATION_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Datadog latency buckets: searches take from ~50 ms to several seconds; retries stop at the deadline. */
export const UPSTREAM_DURATION_BUCKETS_S = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/**
 * Most `X-RateLimit-Name` values tracked. Datadog uses a handful per endpoint; the names come
 * from upstream headers, so a misbehaving upstream must not grow the series without bound.
 */
export const MAX_RATE_LIMIT_NAMES = 50;

export interface PrometheusTelemetry extends Telemetry {
  readonly registry: Registry;
  /** The exposition text, for `GET /metrics` on the metrics port. */
  metrics(): Promise<string>;
  readonly contentType: string;
}

export interface PrometheusOptions {
  version: string;
  /** Process and Node.js metrics (`process_*`, `nodejs_*`); default true. */
  defaultMetrics?: boolean;
}

function createMetrics(registry: Registry) {
  const registers = [registry];
  return {
    buildInfo: new Gauge({ name: 'tinkr_build_info', help: 'Always 1; the version is in the label.', labelNames: ['version'], registers }),
    httpRequests: new Counter({
      name: 'tinkr_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status (aborted: the caller went away first).',
      labelNames: ['method', 'route', 'status'],
      registers,
    }),
    httpDuration: new Histogram({
      name: 'tinkr_http_request_duration_seconds',
      help: 'Time from receiving a request to the end of its answer.',
      labelNames: ['method', 'route', 'status'],
      buckets: HTTP_DURATION_BUCKETS_S,
      registers,
    }),
    httpInFlight: new Gauge({ name: 'tinkr_http_requests_in_flight', help: 'HTTP requests being served right now.', registers }),
    shed: new Counter({
      name: 'tinkr_http_requests_shed_total',
      help: 'Requests answered 503 without being served, by reason (event_loop_delay, heap_used, rss, shutting_down).',
      labelNames: ['reason'],
      registers,
    }),
    upstreamCalls: new Counter({
      name: 'tinkr_upstream_requests_total',
      help: 'HTTP exchanges with Datadog, by rate-limit family and outcome (status code, timeout or error); retries count.',
      labelNames: ['family', 'outcome'],
      registers,
    }),
    upstreamDuration: new Histogram({
      name: 'tinkr_upstream_request_duration_seconds',
      help: 'Duration of one HTTP exchange with Datadog.',
      labelNames: ['family', 'outcome'],
      buckets: UPSTREAM_DURATION_BUCKETS_S,
      registers,
    }),
    cache: new Counter({
      name: 'tinkr_cache_outcomes_total',
      help: 'How query answers were obtained (hit, miss, coalesced, stale, bypass), as in x-tinkr-cache.',
      labelNames: ['family', 'outcome'],
      registers,
    }),
    cacheRefreshes: new Counter({
      name: 'tinkr_cache_refreshes_total',
      help: 'Background refreshes of answers served stale while they are refreshed (refreshed, denied by the budget, failed).',
      labelNames: ['family', 'outcome'],
      registers,
    }),
    coalesced: new Counter({
      name: 'tinkr_coalesced_requests_total',
      help: 'Requests answered by joining an identical upstream call already in flight.',
      labelNames: ['family'],
      registers,
    }),
    rateLimitRemaining: new Gauge({
      name: 'tinkr_datadog_ratelimit_remaining',
      help: 'Last X-RateLimit-Remaining Datadog sent, per X-RateLimit-Name.',
      labelNames: ['name'],
      registers,
    }),
    rateLimitLimit: new Gauge({
      name: 'tinkr_datadog_ratelimit_limit',
      help: 'Last X-RateLimit-Limit Datadog sent, per X-RateLimit-Name.',
      labelNames: ['name'],
      registers,
    }),
    budgetGate: new Counter({
      name: 'tinkr_budget_gate_total',
      help: "Times Datadog's rate-limit budget held a request: waited for the reset, kept it off the reserve or paced it (answered from the cache), found the budget exhausted, or found the key past its share (stale answer or 429).",
      labelNames: ['family', 'outcome'],
      registers,
    }),
    upstreamSpend: new Counter({
      name: 'tinkr_upstream_spend_total',
      help: "Calls to Datadog let through by the budget gate, by the subject of the key whose request made them (a shared call counts for the request that started it) and rate-limit family. Subjects come from the configured keys ('anonymous' with auth.mode = \"none\").",
      labelNames: ['subject', 'family'],
      registers,
    }),
    keysStatus: new Gauge({
      name: 'tinkr_datadog_keys_status',
      help: 'The Datadog key check: 1 for its current status (unchecked, ok, rejected, unreachable), 0 for the others.',
      labelNames: ['status'],
      registers,
    }),
    secretsRefreshes: new Counter({
      name: 'tinkr_secrets_refreshes_total',
      help: 'Re-fetches of the Datadog keys from the secret manager, by outcome (changed, unchanged, failed).',
      labelNames: ['outcome'],
      registers,
    }),
    storeUp: new Gauge({
      name: 'tinkr_store_up',
      help: 'Whether the shared store (Redis) is up: 1 shares state with the other replicas, 0 serves from this replica\'s own state.',
      // Registered on first use: a server without a store exports no such series at all.
      registers: [],
    }),
    fleetFlights: new Counter({
      name: 'tinkr_fleet_flights_total',
      help: "With a shared store, how each of this replica's productions of an answer went: produced under the fleet-wide lease, read another replica's answer, took over from a holder that died or kept nothing, or alone (the store could not answer).",
      labelNames: ['family', 'outcome'],
      // Registered with tinkr_store_up: only a server with a store has fleet-wide flights.
      registers: [],
    }),
    tailStreams: new Gauge({ name: 'tinkr_tail_streams', help: 'Live tails polling Datadog now: one per distinct scope and query.', registers }),
    tailSubscribers: new Gauge({ name: 'tinkr_tail_subscribers', help: 'Live-tail subscribers connected (or joining) now.', registers }),
    tailPolls: new Counter({
      name: 'tinkr_tail_polls_total',
      help: 'Live-tail polls by outcome: ok, held (spread out by the budget gate), rate_limited (budget spent or Datadog 429), failed.',
      labelNames: ['outcome'],
      registers,
    }),
    tailEvents: new Counter({
      name: 'tinkr_tail_events_total',
      help: 'Events written to live-tail subscribers (log, warning), once per subscriber.',
      labelNames: ['event'],
      registers,
    }),
  };
}

/**
 * Every value of the labels whose values are known in advance. Their series are exported at 0
 * from the start: a counter that appears only at its first increment has no earlier sample, so
 * `increase()` and `rate()` (and the alert rules in deploy/) would miss that first event, and a
 * dashboard would show "no data" instead of 0. The `Record` types make a new union member a
 * compile error here until it is listed.
 */
const keysOf = <T extends string>(record: Record<T, true>): T[] => Object.keys(record) as T[];
const FAMILIES = keysOf<Family>({ logs: true, spans: true, metrics: true, logs_aggregate: true, spans_aggregate: true });
const CACHE_STATUSES = keysOf<CacheStatus>({ hit: true, miss: true, coalesced: true, stale: true, bypass: true });
const BUDGET_GATE_OUTCOMES = keysOf<BudgetGateOutcome>({ waited: true, reserve: true, paced: true, exhausted: true, share: true });
const CACHE_REFRESH_OUTCOMES = keysOf<CacheRefreshOutcome>({ refreshed: true, denied: true, failed: true });
const FLEET_FLIGHT_OUTCOMES = keysOf<FleetFlightOutcome>({ produced: true, read: true, took_over: true, alone: true });
const SHED_REASONS = keysOf<ShedReason>({ event_loop_delay: true, heap_used: true, rss: true, shutting_down: true });
const REFRESH_OUTCOMES = keysOf<RefreshOutcome>({ changed: true, unchanged: true, failed: true });
const TAIL_POLL_OUTCOMES = keysOf<TailPollOutcome>({ ok: true, held: true, rate_limited: true, failed: true });
const TAIL_EVENTS = keysOf<'log' | 'warning'>({ log: true, warning: true });
/** Every status of the key check, each its own series so an alert can match `status="rejected"`. */
const KEY_STATUSES = keysOf<KeyStatus>({ unchecked: true, ok: true, rejected: true, unreachable: true });

function exportZeros(m: ReturnType<typeof createMetrics>): void {
  for (const family of FAMILIES) {
    m.coalesced.inc({ family }, 0);
    for (const outcome of CACHE_STATUSES) m.cache.inc({ family, outcome }, 0);
    for (const outcome of BUDGET_GATE_OUTCOMES) m.budgetGate.inc({ family, outcome }, 0);
    for (const outcome of CACHE_REFRESH_OUTCOMES) m.cacheRefreshes.inc({ family, outcome }, 0);
  }
  for (const reason of SHED_REASONS) m.shed.inc({ reason }, 0);
  for (const outcome of REFRESH_OUTCOMES) m.secretsRefreshes.inc({ outcome }, 0);
  for (const outcome of TAIL_POLL_OUTCOMES) m.tailPolls.inc({ outcome }, 0);
  for (const event of TAIL_EVENTS) m.tailEvents.inc({ event }, 0);
}

/** Milliseconds as seconds; a non-finite or negative duration (a clock step) counts as 0. */
const seconds = (ms: number): number => (Number.isFinite(ms) && ms > 0 ? ms / 1000 : 0);

export function createPrometheusTelemetry(options: PrometheusOptions): PrometheusTelemetry {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const m = createMetrics(registry);
  m.buildInfo.set({ version: options.version }, 1);
  exportZeros(m);
  const rateLimitNames = new Set<string>();
  const setKeysStatus = (current: KeyStatus): void => {
    for (const status of KEY_STATUSES) m.keysStatus.set({ status }, status === current ? 1 : 0);
  };
  setKeysStatus('unchecked');

  return {
    registry,
    get contentType() {
      return registry.contentType;
    },
    metrics: () => registry.metrics(),

    httpRequestStarted() {
      m.httpInFlight.inc();
    },
    httpRequestEnded(exchange: HttpExchange) {
      m.httpInFlight.dec();
      const labels = { method: exchange.method, route: exchange.route, status: String(exchange.status) };
      m.httpRequests.inc(labels);
      m.httpDuration.observe(labels, seconds(exchange.durationMs));
    },
    requestShed(reason: ShedReason) {
      m.shed.inc({ reason });
    },
    upstreamCall(family: Family, outcome: number | 'timeout' | 'error', durationMs: number) {
      const labels = { family, outcome: String(outcome) };
      m.upstreamCalls.inc(labels);
      m.upstreamDuration.observe(labels, seconds(durationMs));
    },
    budgetGate(family: Family, outcome: BudgetGateOutcome) {
      m.budgetGate.inc({ family, outcome });
    },
    upstreamSpend(subject: string, family: Family) {
      m.upstreamSpend.inc({ subject, family });
    },
    rateLimit(info: RateLimitInfo) {
      if (!rateLimitNames.has(info.name)) {
        if (rateLimitNames.size >= MAX_RATE_LIMIT_NAMES) return;
        rateLimitNames.add(info.name);
      }
      m.rateLimitRemaining.set({ name: info.name }, info.remaining);
      m.rateLimitLimit.set({ name: info.name }, info.limit);
    },
    cacheOutcome(family: Family, status: CacheStatus) {
      m.cache.inc({ family, outcome: status });
      if (status === 'coalesced') m.coalesced.inc({ family });
    },
    cacheRefresh(family: Family, outcome: CacheRefreshOutcome) {
      m.cacheRefreshes.inc({ family, outcome });
    },
    secretsRefresh(outcome: RefreshOutcome) {
      m.secretsRefreshes.inc({ outcome });
    },
    fleetFlight(family: Family, outcome: FleetFlightOutcome) {
      m.fleetFlights.inc({ family, outcome });
    },
    storeUp(up: boolean) {
      if (!registry.getSingleMetric('tinkr_store_up')) {
        registry.registerMetric(m.storeUp);
        registry.registerMetric(m.fleetFlights);
        for (const family of FAMILIES) for (const outcome of FLEET_FLIGHT_OUTCOMES) m.fleetFlights.inc({ family, outcome }, 0);
      }
      m.storeUp.set(up ? 1 : 0);
    },
    tailStreams(streams: number, subscribers: number) {
      m.tailStreams.set(streams);
      m.tailSubscribers.set(subscribers);
    },
    tailPoll(outcome: TailPollOutcome) {
      m.tailPolls.inc({ outcome });
    },
    tailEvents(kind: 'log' | 'warning', count: number) {
      m.tailEvents.inc({ event: kind }, count);
    },
    keysStatus(status: KeyStatus) {
      setKeysStatus(status);
    },
  };
}
