import type { Clock } from '../clock.ts';
import { AppError, isAppError } from '../errors.ts';
import type { Telemetry } from '../telemetry/telemetry.ts';
import { resolveTimeSpec, type TimeRange } from '../time/range.ts';
import { signalName, upstreamTimeout, type Family, type UpstreamReply, type UpstreamRequest } from '../upstream-call.ts';
import { createAnswerCache, type CachedAnswer, type CacheKeys, type CacheLookup, type CacheOptions, type CacheRecord } from './answer-cache.ts';
import { DEFAULT_ANSWER_WEIGHT, type Answer, type AnswerIO, type AnswerQuery, type Engine } from './answer.ts';
import { BudgetDenied, type Entitlement } from './budget.ts';
import { createCoalescer, type Coalescer, type Flight } from './coalesce.ts';
import { ShareDenied, type FairShare } from './fair-share.ts';
import { runLeased, type FleetLeases } from './fleet-flight.ts';
import { requestKey } from './key.ts';
import { createProductionGate, type ProductionGate } from './production-gate.ts';
import { createRefresher, type RefreshLog } from './refresh.ts';
import { budgetWarning, withWarning } from './stale.ts';
import { createMemoryStore, type Store } from './store.ts';
import type { CallContext, Upstream } from './types.ts';

/**
 * The upstream engine: one finished answer per query, from wherever it is cheapest.
 *
 *   resolve the range → cache lookup → hit
 *                                     → stale, one background refresh (stale-while-revalidate)
 *                                     → flight (coalesced): produce through the gated calls →
 *                                       serialise once → keep → answer
 *                                       (budget refused: stale with a warning, or 429)
 *
 * A hit returns the stored bytes: nothing is parsed, mapped, serialised or signed again.
 */

export interface EngineDeps {
  /** The gated Datadog call (gated-call.ts); tests pass fakes. */
  upstream: Upstream & { inspect?(): { active: number; queued: number; budgetWaits: number } };
  clock: Clock;
  telemetry: Telemetry;
  cache: CacheOptions;
  /** Where finished answers live; in memory, bounded by `cache.maxBytes`/`maxEntries`, unless given. */
  store?: Store<CacheRecord>;
  /**
   * Who shares productions of the same answer in this replica; its own coalescer unless given.
   * (Across replicas, `leases` make one of these flights the fleet's.)
   */
  flights?: Coalescer;
  /**
   * Leases shared with the other replicas (fleet-flight.ts): one production per cache key in
   * the fleet, the others reading it from `store` (which must then be the shared one). Without
   * them, or without a cache, each replica produces on its own.
   */
  leases?: FleetLeases | undefined;
  /** Non-secret name of the Datadog account in use (API base URL, key fingerprint): accounts never share answers. */
  origin(): string;
  /** The request timeout; a background refresh gets as long. */
  requestTimeoutMs: number;
  /** The budget's `max_paced_age`: pacing holds back callers with a cached answer younger than this. */
  maxPacedAgeMs: number;
  /** Told of every request (a hit too): a key that asks is active, for the others' fair share. */
  share?: Pick<FairShare, 'seen'> | undefined;
  /** The bound on what answers in production hold; DEFAULT_MAX_WEIGHT_IN_PRODUCTION unless given. */
  production?: ProductionGate;
  log?: RefreshLog | undefined;
}

/** A flight's result, shared by everyone who waited on it. */
interface Produced {
  keys: CacheKeys;
  entry: CachedAnswer;
  keptUntil: number;
  stored: boolean;
  /** Produced by another replica, read from the shared cache once it was done. */
  elsewhere?: boolean;
}

export function createEngine(deps: EngineDeps): Engine {
  const { clock } = deps;
  const store =
    deps.store ?? createMemoryStore<CacheRecord>({ maxBytes: deps.cache.maxBytes, maxEntries: deps.cache.maxEntries, clock });
  const cache = createAnswerCache(deps.cache, store, clock);
  const flights = deps.flights ?? createCoalescer(clock);
  const refresher = createRefresher({ flights, clock, telemetry: deps.telemetry, timeoutMs: deps.requestTimeoutMs, log: deps.log });
  const production = deps.production ?? createProductionGate();
  const sizes = store as Partial<{ size: number; bytes: number }>;
  // Without a cache, another replica's answer could never be read: no point waiting for it.
  const leases = cache.enabled ? deps.leases : undefined;

  async function keep(produced: Produced): Promise<void> {
    produced.stored = true;
    // A failing shared store costs the next caller a miss, never this answer.
    await cache.store(produced.keys, produced.entry, produced.keptUntil).catch(() => {});
  }

  /** One flight: produce the body through gated calls, serialise it once, keep it. */
  async function produce(query: AnswerQuery, range: TimeRange, keys: CacheKeys, flight: FlightContext, mayStore: boolean): Promise<Produced> {
    const basis = clock.now();
    const keptUntil = basis + cache.lifetimes(range, basis).keepMs;
    let fetchedAt: number | undefined;
    let calls = 0;
    const io: AnswerIO = {
      servedUntil: keptUntil,
      async fetch(request) {
        const first = calls++ === 0;
        try {
          const reply = await deps.upstream.send(request, first ? flight.first : flight.later);
          fetchedAt = Math.min(fetchedAt ?? reply.fetchedAt, reply.fetchedAt);
          return reply;
        } catch (error) {
          // Finishing an answer already begun is not held back for the cache (later calls carry
          // no fallback); only a spent budget stops it, and that is this answer's 429.
          if (!first && error instanceof BudgetDenied) throw rateLimited(request.family, error);
          throw error;
        }
      },
    };
    // What the answer holds while it is made is bounded with every other production's.
    const release = await production.admit(query.weight ?? DEFAULT_ANSWER_WEIGHT, flight.first.signal);
    let bytes: Buffer;
    try {
      bytes = toBytes(JSON.stringify(await query.produce(range, io)));
    } finally {
      release();
    }
    const at = fetchedAt ?? clock.now();
    const life = cache.lifetimes(range, at);
    const entry: CachedAnswer = { bytes, fetchedAt: at, freshUntil: at + life.freshMs, revalidateUntil: at + life.freshMs + life.revalidateMs };
    const produced: Produced = { keys, entry, keptUntil, stored: false };
    if (mayStore) await keep(produced);
    return produced;
  }

  /**
   * One flight for the whole fleet (fleet-flight.ts): under the key's lease, or the answer
   * another replica kept. `since`: a no-cache caller takes only an answer fetched after it asked.
   */
  function fleetWide(flight: Flight, family: Family, keys: CacheKeys, since: number | undefined, make: () => Promise<Produced>): Promise<Produced> {
    if (!leases) return make();
    return runLeased(leases, keys.key, flight, clock, {
      recheck: () => producedElsewhere(keys, since),
      produce: make,
      timedOut: () => upstreamTimeout(family),
      settled: (outcome) => deps.telemetry.fleetFlight(family, outcome),
    });
  }

  /** A fresh answer under exactly this key, kept by another replica since this caller looked. */
  async function producedElsewhere(keys: CacheKeys, since: number | undefined): Promise<Produced | undefined> {
    const { exact } = await cache.lookup({ key: keys.key }).catch((): CacheLookup => ({}));
    const now = clock.now();
    if (!exact || now >= exact.freshUntil || (since !== undefined && exact.fetchedAt < since)) return undefined;
    return { keys, entry: exact, keptUntil: now, stored: true, elsewhere: true };
  }

  return {
    async answer(query, ctx) {
      deps.share?.seen(ctx.caller);
      const now = clock.now();
      const range = resolveTimeSpec(query.time, { nowMs: now, maxRangeMs: query.maxRangeMs, steps: deps.cache.steps });
      const keys = cache.keys(query, range, ctx.partition, deps.origin());
      // A failing shared store is a miss, never a failed request.
      const found: CacheLookup = cache.enabled ? await cache.lookup(keys).catch(() => ({})) : {};
      const exact = found.exact;
      if (exact && !ctx.noCache && now < exact.freshUntil) return { bytes: exact.bytes, cache: 'hit', fetchedAt: exact.fetchedAt };

      const fallback = exact ?? found.latest;
      if (fallback && !ctx.noCache && now < fallback.revalidateUntil) {
        // Just out of date: serve it now, refresh it once in the background.
        const entitlement = entitlementOf(fallback, false, now, ctx);
        refresher.start({
          key: keys.key,
          family: query.family,
          route: query.route,
          windowEndsAt: fallback.revalidateUntil,
          // Spent by the key whose request found the answer out of date.
          run: (flight) =>
            fleetWide(flight, query.family, keys, undefined, () =>
              produce(query, range, keys, flightContext(flight, { noCache: false, partition: ctx.partition, stats: { upstreamCalls: 0 }, caller: ctx.caller }, entitlement), true),
            ),
        });
        return { bytes: fallback.bytes, cache: 'stale', fetchedAt: fallback.fetchedAt };
      }

      const entitlement = entitlementOf(fallback, ctx.noCache, now, ctx);
      // A `no-cache` answer refreshes a panel that is cached (this bucket or an earlier one); it
      // does not fill the cache with one-off questions.
      const mayStore = !ctx.noCache || fallback !== undefined;
      for (let round = 0; ; round++) {
        try {
          const { value, joined } = await flights.run(keys.key, ctx, (flight) =>
            fleetWide(flight, query.family, keys, ctx.noCache ? now : undefined, () => produce(query, range, keys, flightContext(flight, ctx, entitlement), mayStore)),
          );
          if (mayStore && !value.stored) await keep(value);
          // Waiting for another replica's flight is joining a flight.
          const cacheStatus = joined || value.elsewhere ? 'coalesced' : ctx.noCache ? 'bypass' : 'miss';
          return { bytes: value.entry.bytes, fetchedAt: value.entry.fetchedAt, cache: cacheStatus };
        } catch (error) {
          if (!(error instanceof BudgetDenied)) {
            if (isAppError(error) || !ctx.signal.aborted) throw error;
            // This caller's own deadline or disconnect; the shared flight goes on for the others.
            throw upstreamTimeout(query.family, ctx.signal.reason);
          }
          // A flight started by a caller with a cached answer was kept off the reserve or held
          // back by pacing, or by its key's share; this caller may not be (nothing cached, an
          // old answer, no-cache, another key), so it tries once on its own.
          if (error.reason !== 'exhausted' && round === 0 && !heldBackAlike(entitlement, error)) continue;
          // `Cache-Control: no-cache` forbids a stored answer without asking Datadog (RFC 9111
          // §5.2.1.4), so such a caller gets the 429 rather than a stale answer.
          if (fallback && !ctx.noCache) return staleAnswer(fallback, error, query.family);
          throw rateLimited(query.family, error);
        }
      }
    },

    async call(request, ctx, options) {
      deps.share?.seen(ctx.caller);
      // A poller that holds an answer is entitled like a panel with that answer cached.
      const heldAt = ctx.poll?.heldAt;
      const entitlement: Entitlement = {
        hasFallback: heldAt !== undefined,
        noCache: ctx.noCache,
        fallbackAgeMs: heldAt !== undefined ? clock.now() - heldAt : undefined,
        caller: ctx.caller,
      };
      try {
        if (!options?.coalesce) return await deps.upstream.send(request, { ...contextOf(ctx), entitlement });
        const key = `call:${requestKey(request, ctx.partition, deps.origin())}`;
        const { value } = await flights.run<UpstreamReply>(key, ctx, (flight) => deps.upstream.send(request, flightContext(flight, ctx, entitlement).first));
        return value;
      } catch (error) {
        if (error instanceof BudgetDenied) {
          // A poller decides itself what to do when held back (it keeps what it has and asks later).
          if (ctx.poll) throw error;
          throw rateLimited(request.family, error);
        }
        if (isAppError(error) || !ctx.signal.aborted) throw error;
        throw upstreamTimeout(request.family, ctx.signal.reason);
      }
    },

    steps: deps.cache.steps,

    inspect() {
      const calls = deps.upstream.inspect?.() ?? { active: 0, queued: 0, budgetWaits: 0 };
      return {
        flights: flights.size,
        waiters: flights.waiters,
        ...calls,
        refreshes: refresher.running,
        inProduction: production.inProduction,
        productionsQueued: production.queued,
        cacheEntries: sizes.size ?? 0,
        cacheBytes: sizes.bytes ?? 0,
      };
    },
  };

  function entitlementOf(fallback: CachedAnswer | undefined, noCache: boolean, now: number, ctx: CallContext): Entitlement {
    return { hasFallback: fallback !== undefined, noCache, fallbackAgeMs: fallback ? now - fallback.fetchedAt : undefined, caller: ctx.caller };
  }

  /** Whether the gate would hold this caller back for the same reason it held the flight's starter. */
  function heldBackAlike(entitlement: Entitlement, denied: BudgetDenied): boolean {
    if (denied instanceof ShareDenied) return denied.keyId === entitlement.caller?.keyId;
    const cached = entitlement.hasFallback && !entitlement.noCache;
    if (denied.reason === 'reserve') return cached;
    return cached && (entitlement.fallbackAgeMs ?? 0) < deps.maxPacedAgeMs;
  }

  function staleAnswer(answer: CachedAnswer, denied: BudgetDenied, family: Family): Answer {
    const ageS = Math.max(0, Math.floor((clock.now() - answer.fetchedAt) / 1000));
    return { bytes: withWarning(answer.bytes, budgetWarning(denied, family, ageS)), cache: 'stale', fetchedAt: answer.fetchedAt };
  }
}

/** The contexts of a flight's calls: its shared signal and latest deadline, the caller's scope and counters. */
interface FlightContext {
  /** For the first call of an answer: what the flight's starter has cached. */
  first: CallContext;
  /** For the calls that finish it. */
  later: CallContext;
}

function flightContext(flight: Flight, base: Pick<CallContext, 'noCache' | 'partition' | 'stats' | 'caller'>, entitlement: Entitlement | undefined): FlightContext {
  const make = (e: Entitlement | undefined): CallContext => ({
    signal: flight.signal,
    get deadline() {
      return flight.deadline;
    },
    noCache: base.noCache,
    partition: base.partition,
    stats: base.stats,
    entitlement: e,
    caller: base.caller,
  });
  return { first: make(entitlement), later: make({ hasFallback: false, noCache: base.noCache, caller: base.caller }) };
}

/** The caller's context as a plain object (its deadline machinery built now: this call goes upstream). */
function contextOf(ctx: CallContext): CallContext {
  return { signal: ctx.signal, deadline: ctx.deadline, noCache: ctx.noCache, partition: ctx.partition, stats: ctx.stats, caller: ctx.caller, poll: ctx.poll };
}

/** A refusal with nothing cached to serve: 429, `RATE_LIMITED` for a key past its share (the others still get fresh data). */
function rateLimited(family: Family, denied: BudgetDenied): AppError {
  if (denied instanceof ShareDenied) return denied.refusal();
  return new AppError('UPSTREAM_RATE_LIMITED', `Datadog ${signalName(family)} budget exhausted; retry in ${denied.retryAfterS} s`, { retryAfterS: denied.retryAfterS });
}

/**
 * The answer's UTF-8 bytes in a buffer of their own. Buffer.from would place a small answer in
 * Node's shared 8 kB pool, where one kept entry can hold a whole pool slab alive; the cache
 * counts what an entry costs, so it must own exactly its bytes.
 */
function toBytes(text: string): Buffer {
  const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(text, 'utf8'));
  bytes.write(text, 'utf8');
  return bytes;
}

