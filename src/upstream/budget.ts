import type { Clock } from '../clock.ts';
import type { RateLimitInfo } from '../datadog/rate-limit-headers.ts';
import type { Telemetry } from '../telemetry.ts';
import type { FairShare } from './fair-share.ts';
import type { Store } from './store.ts';
import type { Family, UpstreamCaller } from './types.ts';

/**
 * The budget gate. Datadog allows a few hundred searches an hour per account and says how many
 * remain in every answer's `X-RateLimit-*` headers. The gate keeps what those headers said, per
 * (API base URL, key fingerprint, limit name), and decides before each call whether it may be
 * made:
 *
 * - budget left above the reserve and on pace: send;
 * - ahead of pace (spending faster than would last until the reset): a caller that has a
 *   cached answer younger than `maxPacedAgeMs` gets that instead, so the budget is spread over
 *   the whole period and panels grow a little older evenly, rather than all fresh for twelve
 *   minutes and then frozen for the rest of the hour;
 * - within the reserve: a caller that has any cached answer (even stale) gets that instead, so
 *   the last calls are kept for requests nothing can answer (new panels, `no-cache` refreshes);
 * - nothing left (`Remaining: 0`, or a 429): nothing is sent on that limit until the reset plus
 *   a random jitter (so replicas do not all fire at the reset). A caller waits for the reset
 *   when it comes within `maxWaitMs` and before its deadline; otherwise it is refused at once
 *   (the pipeline then serves a stale answer or a 429 with Retry-After).
 *
 * Which limit a family spends is learned from `X-RateLimit-Name`; until an answer names it, the
 * family itself names the budget. A call the gate would send is then spent by the caller's key
 * within its fair share of the limit (upstream/fair-share.ts), or refused for that key alone.
 */

export interface BudgetOptions {
  /** Share of each limit kept for callers with nothing cached. */
  reserveFraction: number;
  /** Longest a caller waits for a spent budget to reset. */
  maxWaitMs: number;
  /** Upper bound of the random delay added to each reset. */
  resetJitterMs: number;
  /** Spread each period's budget over the period (see `pacedLeft`). */
  pacing: boolean;
  /** Share of each limit that may be spent at once, ahead of the pace. */
  burstFraction: number;
  /** A cached answer older than this is refreshed even ahead of pace, so no panel starves. */
  maxPacedAgeMs: number;
}

/** A tenth of 300 an hour keeps 30 calls for new questions once dashboards have used the rest. */
export const DEFAULT_RESERVE_FRACTION = 0.1;
/**
 * A tenth of the limit may be spent ahead of the pace: a period's first burst of new panels
 * (30 of 300 calls an hour) is answered fresh at once.
 */
export const DEFAULT_BURST_FRACTION = 0.1;
/**
 * Pacing never lets a cached answer grow older than five minutes: past that a panel is
 * refreshed even ahead of pace (and the reserve and the reset take over if it runs out).
 */
export const DEFAULT_MAX_PACED_AGE_MS = 5 * 60_000;
/** A few seconds: worth waiting for a reset that is about to happen, not for one minutes away. */
export const DEFAULT_MAX_WAIT_MS = 3_000;
/** Two seconds spreads replicas' first calls after a reset over two of Datadog's one-second ticks. */
export const DEFAULT_RESET_JITTER_MS = 2_000;
/** A wait that ends closer than this to the deadline leaves no time for the call itself. */
export const MIN_CALL_TIME_MS = 1_000;
/** Budget known to be spent only by calls still in flight: look again after this. */
const PENDING_RECHECK_MS = 1_000;
/** `X-RateLimit-Reset` is in whole seconds; resets this close together are the same period. */
const SAME_PERIOD_TOLERANCE_MS = 2_000;
/** A limit's state is kept a little past its reopening (then the period is new anyway). */
const STATE_GRACE_MS = 60_000;
/** A family's limit name is re-learned from headers at least this often. */
const NAME_TTL_MS = 24 * 60 * 60_000;
/** Rounds of waiting one caller may go through (a reset, then another replica's 429, ...). */
const MAX_ROUNDS = 3;

/** What the gate keeps about one limit. */
export interface LimitState {
  name: string | undefined;
  /** Calls per period; undefined when only a 429 without headers was seen. */
  limit: number | undefined;
  /** Length of a period (`X-RateLimit-Period`); undefined when no header said. */
  periodMs?: number | undefined;
  /** As of the latest answer of this period. */
  remaining: number;
  /** When Datadog starts the next period (epoch ms). */
  resetAtMs: number;
  /** When this replica sends again after a spent period: the reset plus its jitter. */
  reopenAtMs: number;
}

export type BudgetRecord = LimitState | { family: Family; name: string };

/**
 * The gate refused a call. The pipeline answers stale, or 429 with `retryAfterS`
 * (`UPSTREAM_RATE_LIMITED`; `RATE_LIMITED` for a key past its share, since the others still get
 * fresh data).
 */
export type DenialReason = 'exhausted' | 'reserve' | 'pacing' | 'share';

const DENIAL_MESSAGES: Record<DenialReason, (family: Family) => string> = {
  exhausted: (family) => `the Datadog ${family} budget is spent`,
  reserve: (family) => `the Datadog ${family} budget is down to its reserve`,
  pacing: (family) => `the Datadog ${family} budget is being spread over its period`,
  share: (family) => `this key has spent its share of the Datadog ${family} budget while other keys are active`,
};

export class BudgetDenied extends Error {
  readonly reason: DenialReason;
  readonly family: Family;
  readonly retryAfterS: number;

  constructor(reason: DenialReason, family: Family, retryAfterS: number) {
    super(DENIAL_MESSAGES[reason](family));
    this.name = 'BudgetDenied';
    this.reason = reason;
    this.family = family;
    this.retryAfterS = retryAfterS;
  }
}

/** What the caller has to fall back on, which decides whether it may spend the reserve. */
export interface Entitlement {
  /** Some answer to this request is cached, fresh or stale. */
  hasFallback: boolean;
  /** The caller sent `Cache-Control: no-cache`. */
  noCache: boolean;
  /** Age of the newest cached answer (ms), when there is one. */
  fallbackAgeMs?: number | undefined;
  /** Whose key spends the call, within its fair share; absent for the server's own calls. */
  caller?: UpstreamCaller | undefined;
}

/** Permission for one call; give it back when the call has ended (headers observed). */
export interface Ticket {
  release(): void;
}

export interface BudgetGate {
  /** Resolves when a call may be made, after waiting if worthwhile; throws BudgetDenied otherwise. */
  acquire(family: Family, keyPrint: string, wait: { signal: AbortSignal; deadline: number }, entitlement: Entitlement): Promise<Ticket>;
  /** An answer's rate-limit headers. */
  observe(family: Family, keyPrint: string, info: RateLimitInfo, status: number): Promise<void>;
  /** A 429 (with or without headers): nothing more until `retryAfterS` has passed. */
  exhausted(family: Family, keyPrint: string, retryAfterS: number): Promise<void>;
  /** The state of a family's limit, for tests and metrics. */
  state(family: Family, keyPrint: string): Promise<LimitState | undefined>;
  /** Calls waiting for a spent budget to reset. */
  readonly waiting: number;
}

export interface BudgetGateDeps {
  options: BudgetOptions;
  store: Store<BudgetRecord>;
  clock: Clock;
  telemetry: Telemetry;
  /** Non-secret name of the Datadog API base URL. */
  origin: string;
  /** Each key's share of a limit; without it a call is nobody's spend. */
  share?: FairShare;
  random?: () => number;
}

type Verdict = { kind: 'send' } | { kind: 'reserve' } | { kind: 'pacing' } | { kind: 'closed'; untilMs: number };

export function createBudgetGate(deps: BudgetGateDeps): BudgetGate {
  const { options, store, clock } = deps;
  const random = deps.random ?? Math.random;
  /** Calls this replica has started and not yet seen answered, per limit. */
  const pending = new Map<string, number>();
  let waiting = 0;

  const reserveOf = (limit: number) => Math.ceil(limit * options.reserveFraction);

  /**
   * Whether spending now would run ahead of the pace line: the budget above the reserve should
   * shrink no faster than the period does, give or take a burst. With `left` calls left (in
   * flight counted), `usable = limit - reserve` and a share `f` of the period still to go, a
   * call is on pace while `left - reserve >= usable * f - burst`.
   */
  function aheadOfPace(state: LimitState, left: number, now: number): boolean {
    if (!options.pacing || state.limit === undefined || !state.periodMs) return false;
    const reserve = reserveOf(state.limit);
    const usable = state.limit - reserve;
    const share = Math.min(1, Math.max(0, (state.resetAtMs - now) / state.periodMs));
    const burst = Math.ceil(state.limit * options.burstFraction);
    return left - reserve < usable * share - burst;
  }

  async function limitKey(family: Family, keyPrint: string): Promise<string> {
    const base = `${deps.origin}|${keyPrint}`;
    const named = await store.get(`name:${base}|${family}`);
    return named && 'name' in named && 'family' in named ? `limit:${base}|name:${named.name}` : `limit:${base}|family:${family}`;
  }

  async function limitState(key: string): Promise<LimitState | undefined> {
    const record = await store.get(key);
    return record && 'remaining' in record ? record : undefined;
  }

  function judge(state: LimitState | undefined, inFlight: number, now: number, entitlement: Entitlement): Verdict {
    if (!state) return { kind: 'send' };
    const newPeriod = now >= state.reopenAtMs;
    if (newPeriod && state.limit === undefined) return { kind: 'send' };
    const left = (newPeriod ? state.limit! : state.remaining) - inFlight;
    if (left <= 0) {
      // Spent for this period, or about to be by calls in flight (whose answers will tell).
      const spent = !newPeriod && state.remaining <= 0;
      return { kind: 'closed', untilMs: spent ? state.reopenAtMs : now + PENDING_RECHECK_MS };
    }
    const cached = entitlement.hasFallback && !entitlement.noCache;
    if (state.limit !== undefined && left <= reserveOf(state.limit) && cached) return { kind: 'reserve' };
    // A new period starts with the whole budget; pacing is about the current one.
    if (!newPeriod && cached && (entitlement.fallbackAgeMs ?? 0) < options.maxPacedAgeMs && aheadOfPace(state, left, now)) {
      return { kind: 'pacing' };
    }
    return { kind: 'send' };
  }

  function ticket(key: string): Ticket {
    pending.set(key, (pending.get(key) ?? 0) + 1);
    let released = false;
    return {
      release() {
        if (released) return;
        released = true;
        const left = (pending.get(key) ?? 1) - 1;
        if (left > 0) pending.set(key, left);
        else pending.delete(key);
      },
    };
  }

  async function keep(key: string, state: LimitState): Promise<void> {
    await store.set(key, state, { ttlMs: Math.max(1, state.reopenAtMs - clock.now() + STATE_GRACE_MS) });
  }

  return {
    async acquire(family, keyPrint, wait, entitlement) {
      let waitedMs = 0;
      for (let round = 0; ; round++) {
        const key = await limitKey(family, keyPrint);
        const state = await limitState(key);
        const now = clock.now();
        const verdict = judge(state, pending.get(key) ?? 0, now, entitlement);
        if (verdict.kind === 'send') {
          // Counted in flight before anything else is awaited, so concurrent callers see it.
          const granted = ticket(key);
          try {
            await deps.share?.spend(family, key, state, entitlement.caller);
          } catch (error) {
            granted.release();
            if (error instanceof BudgetDenied) deps.telemetry.budgetGate(family, 'share');
            throw error;
          }
          if (waitedMs > 0) deps.telemetry.budgetGate(family, 'waited');
          return granted;
        }
        if (verdict.kind === 'reserve' || verdict.kind === 'pacing') {
          deps.telemetry.budgetGate(family, verdict.kind === 'reserve' ? 'reserve' : 'paced');
          throw new BudgetDenied(verdict.kind, family, Math.max(1, Math.ceil(((state?.reopenAtMs ?? now) - now) / 1000)));
        }
        const waitMs = verdict.untilMs - now;
        const worthIt = round < MAX_ROUNDS && waitedMs + waitMs <= options.maxWaitMs && verdict.untilMs + MIN_CALL_TIME_MS <= wait.deadline;
        if (!worthIt) {
          deps.telemetry.budgetGate(family, 'exhausted');
          throw new BudgetDenied('exhausted', family, Math.max(1, Math.ceil(waitMs / 1000)));
        }
        waiting++;
        try {
          await clock.sleep(waitMs, wait.signal);
        } finally {
          waiting--;
        }
        waitedMs += waitMs;
      }
    },

    async observe(family, keyPrint, info, status) {
      const now = clock.now();
      const base = `${deps.origin}|${keyPrint}`;
      if (info.name !== 'unnamed') {
        const nameKey = `name:${base}|${family}`;
        const known = await store.get(nameKey);
        if (!(known && 'name' in known && known.name === info.name)) {
          await store.set(nameKey, { family, name: info.name }, { ttlMs: NAME_TTL_MS });
        }
      }
      const key = await limitKey(family, keyPrint);
      const existing = await limitState(key);
      const resetAtMs = now + info.resetS * 1000;
      const remaining = status === 429 ? 0 : info.remaining;
      const current = existing !== undefined && now < existing.reopenAtMs;
      // An answer from a period that has already ended arrived late: it says nothing new.
      if (current && resetAtMs < existing.resetAtMs - SAME_PERIOD_TOLERANCE_MS) return;
      const samePeriod = current && Math.abs(resetAtMs - existing.resetAtMs) <= SAME_PERIOD_TOLERANCE_MS;
      await keep(key, {
        name: info.name === 'unnamed' ? undefined : info.name,
        limit: info.limit,
        periodMs: info.periodS > 0 ? info.periodS * 1000 : existing?.periodMs,
        // Answers arrive out of order; within a period the budget only goes down.
        remaining: samePeriod ? Math.min(existing.remaining, remaining) : remaining,
        resetAtMs: samePeriod ? existing.resetAtMs : resetAtMs,
        reopenAtMs: samePeriod ? existing.reopenAtMs : resetAtMs + random() * options.resetJitterMs,
      });
    },

    async exhausted(family, keyPrint, retryAfterS) {
      const now = clock.now();
      const key = await limitKey(family, keyPrint);
      const existing = await limitState(key);
      if (existing && now < existing.reopenAtMs && existing.remaining <= 0) return;
      const resetAtMs = now + retryAfterS * 1000;
      await keep(key, {
        name: existing?.name,
        limit: existing?.limit,
        periodMs: existing?.periodMs,
        remaining: 0,
        resetAtMs,
        reopenAtMs: resetAtMs + random() * options.resetJitterMs,
      });
    },

    async state(family, keyPrint) {
      return limitState(await limitKey(family, keyPrint));
    },

    get waiting() {
      return waiting;
    },
  };
}
