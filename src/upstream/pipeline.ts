import type { Clock } from '../clock.ts';
import { errorForFailure, signalName } from '../datadog/errors.ts';
import { DEFAULT_RETRY_AFTER_S } from '../datadog/rate-limit-headers.ts';
import type { DatadogTransport } from '../datadog/transport.ts';
import { AppError, isAppError } from '../errors.ts';
import { shortHash } from '../hash.ts';
import type { Telemetry } from '../telemetry.ts';
import {
  BudgetDenied,
  createBudgetGate,
  DEFAULT_BURST_FRACTION,
  DEFAULT_MAX_PACED_AGE_MS,
  DEFAULT_MAX_WAIT_MS,
  DEFAULT_RESERVE_FRACTION,
  DEFAULT_RESET_JITTER_MS,
  type BudgetOptions,
  type Entitlement,
} from './budget.ts';
import { createMemoryLedger, type BudgetLedger } from './budget-ledger.ts';
import {
  createResponseCache,
  DEFAULT_CACHE_MAX_BYTES,
  DEFAULT_CACHE_MAX_ENTRIES,
  DEFAULT_IMMUTABLE_TTL_MS,
  DEFAULT_INGESTION_DELAY_MS,
  DEFAULT_MAX_STALE_MS,
  type CachedAnswer,
  type CacheKeys,
  type CacheLookup,
  type CacheOptions,
  type CacheRecord,
} from './cache.ts';
import { createCoalescer, type Flight } from './coalesce.ts';
import { createLimiter, DEFAULT_MAX_CONCURRENT, DEFAULT_MAX_QUEUED, type ConcurrencyOptions } from './concurrency.ts';
import { createDatadogClient, type Credentials } from './datadog-client.ts';
import { createFairShare, createMemoryShareLedger, ShareDenied, type ShareLedger } from './fair-share.ts';
import { fingerprintCache } from './key.ts';
import { MAX_PAGES_PER_REQUEST } from './paging.ts';
import type { RetryPolicy } from './retry.ts';
import { DEFAULT_STEPS } from './step.ts';
import { createMemoryStore, type Store } from './store.ts';
import type { CallContext, Family, Upstream, UpstreamReply, UpstreamRequest, Warning } from './types.ts';

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

/** Calls after a 429 before the request gives up (each only when the gate lets it through). */
const MAX_CALLS_AFTER_429 = 2;

export interface PipelineDeps {
  transport: DatadogTransport;
  credentials: Credentials;
  clock: Clock;
  telemetry: Telemetry;
  /** Datadog's API base URL: budgets and cache entries of different sites are kept apart. */
  baseUrl: string;
  policy?: UpstreamPolicy;
  /** Where cache and budget state and each key's spends live; in-memory unless a shared store is given. */
  stores?: { cache?: Store<CacheRecord>; budget?: BudgetLedger; shares?: ShareLedger };
  retry?: RetryPolicy;
  /** Jitter source (tests make it fixed). */
  random?: () => number;
}

export interface UpstreamPipeline extends Upstream {
  /** What is going on inside, for tests and metrics. */
  inspect(): { flights: number; waiters: number; active: number; queued: number; budgetWaits: number };
}

/**
 * The Upstream the routes use: every layer between a service's request and Datadog, composed in
 * one place so tests run exactly what production runs. In order:
 *
 *   cache read → coalescing → [budget gate → concurrency limit → Datadog client → cache write]
 *
 * A fresh cached answer is a `hit`. Otherwise the caller joins the call already in flight for
 * the same request (`coalesced`) or starts one (`miss`, or `bypass` with `no-cache`). The call
 * asks the budget gate first, which also holds the starter's key to its fair share; when the
 * gate refuses, each waiter falls back to whatever answer it has cached (`stale`, with a
 * warning) or gets 429 `UPSTREAM_RATE_LIMITED` (`RATE_LIMITED` for a key past its share).
 */
export function createUpstreamPipeline(deps: PipelineDeps): UpstreamPipeline {
  const policy = deps.policy ?? DEFAULT_UPSTREAM_POLICY;
  const { clock } = deps;
  const origin = shortHash(deps.baseUrl, 12);
  const fingerprint = fingerprintCache();

  const cache = createResponseCache(
    policy.cache,
    deps.stores?.cache ?? createMemoryStore<CacheRecord>({ maxBytes: policy.cache.maxBytes, maxEntries: policy.cache.maxEntries, clock }),
    clock,
  );
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
  const flights = createCoalescer(clock);
  const limiter = createLimiter(policy.concurrency);
  const client = createDatadogClient({
    transport: deps.transport,
    credentials: deps.credentials,
    clock,
    telemetry: deps.telemetry,
    ...(deps.retry ? { retry: deps.retry } : {}),
    ...(deps.random ? { random: deps.random } : {}),
    onRateLimit: async (request, info, status, used) => {
      try {
        await gate.observe(request.family, fingerprint(used.apiKey), info, status);
      } catch {
        // A failing shared store must not fail the answer that carried the headers.
      }
    },
  });

  /** One upstream answer for the flight: gate, slot, call (again after a 429 if the gate allows), keep. */
  async function fetchFresh(request: UpstreamRequest, keys: CacheKeys, ctx: CallContext, keyPrint: string, entitlement: Entitlement): Promise<UpstreamReply> {
    try {
      for (let calls = 0; ; calls++) {
        const ticket = await gate.acquire(request.family, keyPrint, ctx, entitlement);
        let reply: UpstreamReply;
        try {
          const release = await limiter.acquire(ctx.signal);
          try {
            reply = await client.send(request, ctx);
          } finally {
            release();
          }
        } catch (error) {
          if (isAppError(error) && error.code === 'UPSTREAM_RATE_LIMITED' && calls < MAX_CALLS_AFTER_429) {
            // Close the gate (the headers may have done so already); it then waits for the
            // reset with jitter if that comes in time, or refuses.
            await gate.exhausted(request.family, keyPrint, error.retryAfterS ?? DEFAULT_RETRY_AFTER_S).catch(() => {});
            continue;
          }
          throw error;
        } finally {
          ticket.release();
        }
        if (!ctx.poll) await cache.store(keys, request, reply).catch(() => {});
        return reply;
      }
    } catch (error) {
      if (isAppError(error) || error instanceof BudgetDenied || !ctx.signal.aborted) throw error;
      // Aborted while waiting for the gate or a slot: the shared deadline passed.
      throw errorForFailure(ctx.signal.reason, request.family, true);
    }
  }

  function sharedContext(ctx: CallContext, flight: Flight): CallContext {
    return {
      signal: flight.signal,
      get deadline() {
        return flight.deadline;
      },
      noCache: ctx.noCache,
      partition: ctx.partition,
      stats: ctx.stats,
      ...(ctx.poll ? { poll: ctx.poll } : {}),
    };
  }

  return {
    async send(request, ctx) {
      share.seen(ctx.caller);
      const keyPrint = fingerprint(deps.credentials.current().apiKey);
      const keys = cache.keys(request, ctx.partition, `${origin}|${keyPrint}`);
      // A failing shared store is a miss, never a failed request. A poll's range is new: no lookup.
      const found: CacheLookup = ctx.poll ? {} : await cache.lookup(keys).catch(() => ({}));
      if (found.fresh && !ctx.noCache) return { body: found.fresh.body, fetchedAt: found.fresh.fetchedAt, cache: 'hit' };
      const fallback = found.fallback;
      // A poller that holds an answer is entitled like a panel with that answer cached.
      const heldAt = ctx.poll?.heldAt ?? fallback?.fetchedAt;
      const entitlement: Entitlement = {
        hasFallback: heldAt !== undefined,
        noCache: ctx.noCache,
        fallbackAgeMs: heldAt !== undefined ? clock.now() - heldAt : undefined,
        caller: ctx.caller,
      };

      for (let round = 0; ; round++) {
        try {
          const { value, joined } = await flights.run(keys.key, ctx, (flight) =>
            fetchFresh(request, keys, sharedContext(ctx, flight), keyPrint, entitlement),
          );
          return { body: value.body, fetchedAt: value.fetchedAt, cache: joined ? 'coalesced' : ctx.noCache ? 'bypass' : 'miss' };
        } catch (error) {
          if (!(error instanceof BudgetDenied)) {
            if (isAppError(error) || !ctx.signal.aborted) throw error;
            // This caller's own deadline or disconnect; the shared call goes on for the others.
            throw errorForFailure(ctx.signal.reason, request.family, true);
          }
          // A call started by a caller with a cached answer was kept off the reserve or held
          // back by pacing, or by its key's share; this caller may not be (nothing cached, an
          // old answer, no-cache, another key), so it tries once on its own.
          if (error.reason !== 'exhausted' && round === 0 && !heldBackAlike(entitlement, error)) continue;
          // A poller decides itself what to do when held back (it keeps what it has and asks later).
          if (ctx.poll) throw error;
          // `Cache-Control: no-cache` forbids a stored answer without asking Datadog (RFC 9111
          // §5.2.1.4), so such a caller gets the 429 rather than a stale answer.
          if (fallback && !ctx.noCache) return staleReply(fallback, error, request.family);
          if (error instanceof ShareDenied) throw error.refusal();
          throw new AppError('UPSTREAM_RATE_LIMITED', `Datadog ${signalName(request.family)} budget exhausted; retry in ${error.retryAfterS} s`, {
            retryAfterS: error.retryAfterS,
          });
        }
      }
    },

    inspect() {
      return { flights: flights.size, waiters: flights.waiters, active: limiter.active, queued: limiter.queued, budgetWaits: gate.waiting };
    },
  };

  /** Whether the gate would hold this caller back for the same reason it held the flight's starter. */
  function heldBackAlike(entitlement: Entitlement, denied: BudgetDenied): boolean {
    if (denied instanceof ShareDenied) return denied.keyId === entitlement.caller?.keyId;
    const cached = entitlement.hasFallback && !entitlement.noCache;
    if (denied.reason === 'reserve') return cached;
    return cached && (entitlement.fallbackAgeMs ?? 0) < policy.budget.maxPacedAgeMs;
  }

  function staleReply(answer: CachedAnswer, denied: BudgetDenied, family: Family): UpstreamReply {
    const ageS = Math.max(0, Math.floor((clock.now() - answer.fetchedAt) / 1000));
    const why =
      denied.reason === 'reserve'
        ? 'is down to the reserve kept for requests with nothing cached'
        : denied.reason === 'pacing'
          ? `is being spread to last until its reset (in ${denied.retryAfterS} s)`
          : `is spent (next call in ${denied.retryAfterS} s)`;
    const warning: Warning =
      denied instanceof ShareDenied
        ? denied.staleWarning(ageS)
        : { code: `budget_${denied.reason}`, message: `Datadog's ${signalName(family)} budget ${why}; this answer is from the cache, ${ageS} s old` };
    const reply: UpstreamReply = { body: answer.body, fetchedAt: answer.fetchedAt, cache: 'stale', warnings: [warning] };
    if (answer.window) reply.window = answer.window;
    return reply;
  }
}
