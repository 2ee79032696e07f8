import type { Clock } from '../clock.ts';
import { createDatadogClient, type DatadogTransport } from '../datadog/client.ts';
import { shortHash } from '../hash.ts';
import { noTelemetry, type Telemetry } from '../telemetry/telemetry.ts';
import {
  DEFAULT_CACHE_MAX_BYTES,
  DEFAULT_CACHE_MAX_ENTRIES,
  DEFAULT_IMMUTABLE_TTL_MS,
  DEFAULT_INGESTION_DELAY_MS,
  DEFAULT_MAX_STALE_MS,
  type CacheOptions,
  type CacheRecord,
} from './answer-cache.ts';
import type { Engine } from './answer.ts';
import { createMemoryLedger, type BudgetLedger } from './budget-ledger.ts';
import {
  createBudgetGate,
  DEFAULT_BURST_FRACTION,
  DEFAULT_MAX_PACED_AGE_MS,
  DEFAULT_MAX_WAIT_MS,
  DEFAULT_RESERVE_FRACTION,
  DEFAULT_RESET_JITTER_MS,
  type BudgetOptions,
} from './budget.ts';
import type { Coalescer } from './coalesce.ts';
import { createLimiter, DEFAULT_MAX_CONCURRENT, DEFAULT_MAX_QUEUED, type ConcurrencyOptions } from './concurrency.ts';
import { createEngine } from './engine.ts';
import { createFairShare, createMemoryShareLedger, type ShareLedger } from './fair-share.ts';
import type { FleetLeases } from './fleet-flight.ts';
import { createGatedCall } from './gated-call.ts';
import { fingerprintCache } from './key.ts';
import { MAX_PAGES_PER_REQUEST } from './paging.ts';
import type { RefreshLog } from './refresh.ts';
import type { RetryPolicy } from './retry.ts';
import { createRetryingCall, type Credentials } from './retrying-call.ts';
import { DEFAULT_STEPS } from '../time/buckets.ts';
import type { Store } from './store.ts';
import type { Upstream } from './types.ts';

/** Everything configurable between the services and Datadog (`[upstream]` in the config file). */
export interface UpstreamPolicy {
  cache: CacheOptions;
  budget: BudgetOptions;
  concurrency: ConcurrencyOptions;
  /** Most upstream pages one search request may cost (applied by the services' paging loop). */
  maxPages: number;
}

export const DEFAULT_UPSTREAM_POLICY: UpstreamPolicy = {
  cache: {
    enabled: true,
    steps: DEFAULT_STEPS,
    ingestionDelayMs: DEFAULT_INGESTION_DELAY_MS,
    immutableTtlMs: DEFAULT_IMMUTABLE_TTL_MS,
    maxStaleMs: DEFAULT_MAX_STALE_MS,
    maxBytes: DEFAULT_CACHE_MAX_BYTES,
    maxEntries: DEFAULT_CACHE_MAX_ENTRIES,
  },
  budget: {
    reserveFraction: DEFAULT_RESERVE_FRACTION,
    maxWaitMs: DEFAULT_MAX_WAIT_MS,
    resetJitterMs: DEFAULT_RESET_JITTER_MS,
    pacing: true,
    burstFraction: DEFAULT_BURST_FRACTION,
    maxPacedAgeMs: DEFAULT_MAX_PACED_AGE_MS,
  },
  concurrency: { maxActive: DEFAULT_MAX_CONCURRENT, maxQueued: DEFAULT_MAX_QUEUED },
  maxPages: MAX_PAGES_PER_REQUEST,
};

export interface PipelineDeps {
  transport: DatadogTransport;
  credentials: Credentials;
  clock: Clock;
  telemetry: Telemetry;
  /** Datadog's API base URL: budgets and cache entries of different sites are kept apart. */
  baseUrl: string;
  /** The request timeout (`server.request_timeout_ms`); a background refresh gets as long. */
  requestTimeoutMs: number;
  policy?: UpstreamPolicy;
  /** Where cache and budget state and each key's spends live; in-memory unless a shared store is given. */
  stores?: { cache?: Store<CacheRecord>; budget?: BudgetLedger; shares?: ShareLedger };
  /** Who shares productions of the same answer; this replica's flights unless given. */
  flights?: Coalescer;
  /** Leases shared with the other replicas: one production per answer in the fleet (with `stores.cache` shared too). */
  leases?: FleetLeases;
  retry?: RetryPolicy;
  /** Jitter source (tests make it fixed). */
  random?: () => number;
  /** Where a failed background refresh is reported. */
  log?: RefreshLog;
}

/**
 * The engine the routes use, with every layer between a query and Datadog composed in one place
 * so tests run exactly what production runs:
 *
 *   engine (range, finished-answer cache, coalescing, stale-while-revalidate, stale fallback)
 *     → gated call (budget gate, which also holds the caller's key to its fair share →
 *       concurrency limit) → retrying call (keys, retries) → Datadog client (one HTTP exchange)
 */
export function createUpstreamPipeline(deps: PipelineDeps): Engine {
  const policy = deps.policy ?? DEFAULT_UPSTREAM_POLICY;
  const { clock } = deps;
  const origin = shortHash(deps.baseUrl, 12);
  const fingerprint = fingerprintCache();
  const keyPrint = () => fingerprint(deps.credentials.current().apiKey);

  const share = createFairShare({ ledger: deps.stores?.shares ?? createMemoryShareLedger({ clock }), clock, telemetry: deps.telemetry });
  const gate = createBudgetGate({
    options: policy.budget,
    ledger: deps.stores?.budget ?? createMemoryLedger(clock),
    clock,
    telemetry: deps.telemetry,
    origin,
    share,
    ...(deps.random ? { random: deps.random } : {}),
  });
  const datadog = createDatadogClient({
    transport: deps.transport,
    secrets: deps.credentials,
    clock,
    telemetry: deps.telemetry,
    onRateLimit: async (request, info, status, used) => {
      try {
        await gate.observe(request.family, fingerprint(used.apiKey), info, status);
      } catch {
        // A failing shared store must not fail the answer that carried the headers.
      }
    },
  });
  const client = createRetryingCall({
    client: datadog,
    credentials: deps.credentials,
    clock,
    ...(deps.retry ? { retry: deps.retry } : {}),
    ...(deps.random ? { random: deps.random } : {}),
  });
  const upstream = createGatedCall({ gate, limiter: createLimiter(policy.concurrency), client, keyPrint });
  return createEngine({
    upstream,
    clock,
    telemetry: deps.telemetry,
    cache: policy.cache,
    ...(deps.stores?.cache ? { store: deps.stores.cache } : {}),
    ...(deps.flights ? { flights: deps.flights } : {}),
    leases: deps.leases,
    origin: () => `${origin}|${keyPrint()}`,
    requestTimeoutMs: deps.requestTimeoutMs,
    maxPacedAgeMs: policy.budget.maxPacedAgeMs,
    share,
    log: deps.log,
  });
}

/**
 * An engine over a given Upstream, without a cache: every answer is produced afresh and every
 * call goes to `upstream` (building the OpenAPI document, tests of the HTTP edge with a fake).
 */
export function uncachedEngine(upstream: Upstream, clock: Clock, requestTimeoutMs: number): Engine {
  return createEngine({
    upstream,
    clock,
    telemetry: noTelemetry,
    cache: { ...DEFAULT_UPSTREAM_POLICY.cache, enabled: false },
    origin: () => '',
    requestTimeoutMs,
    maxPacedAgeMs: DEFAULT_UPSTREAM_POLICY.budget.maxPacedAgeMs,
  });
}
