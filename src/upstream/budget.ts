import type { Clock } from '../clock.ts';
import type { Telemetry } from '../telemetry/telemetry.ts';
import type { Family, RateLimitInfo } from '../upstream-call.ts';
import { createLocalLedger, type BudgetLedger, type LimitSnapshot } from './budget-ledger.ts';
import { judge, mostInFlight, PENDING_RECHECK_MS, type Verdict } from './budget-verdict.ts';
import type { FairShare } from './fair-share.ts';
import type { Store } from './store.ts';
import type { UpstreamCaller } from './types.ts';

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
/** `X-RateLimit-Reset` is in whole seconds; resets this close together are the same period. */
const SAME_PERIOD_TOLERANCE_MS = 2_000;
/** A limit's state is kept a little past its reopening (then the period is new anyway). */
const STATE_GRACE_MS = 60_000;
/** A family's limit name is re-learned from headers at least this often. */
const NAME_TTL_MS = 24 * 60 * 60_000;
/** Rounds of waiting one caller may go through (a reset, then another replica's 429, ...). */
const MAX_ROUNDS = 3;
/**
 * Compare-and-set attempts per reservation or state update. An attempt fails only when another
 * call changed the limit's state in between (an answer's headers arrived), which is rare; a
 * reservation that keeps failing counts as a busy budget and is judged again a second later.
 */
const MAX_CAS_ATTEMPTS = 8;
/**
 * A reservation outlives the caller's deadline by this much before a shared ledger forgets it:
 * a replica that died mid-call must not hold budget forever, and a live one has released it by
 * then (a shared call's deadline can move later as callers join it).
 */
const RESERVATION_GRACE_MS = 10_000;

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

/** Where limits are kept: a ledger (shared by replicas), or a store for a local ledger. */
export type BudgetGateDeps = {
  options: BudgetOptions;
  clock: Clock;
  telemetry: Telemetry;
  /** Non-secret name of the Datadog API base URL. */
  origin: string;
  /** Each key's share of a limit; without it a call is nobody's spend. */
  share?: FairShare;
  random?: () => number;
} & ({ ledger: BudgetLedger } | { store: Store<BudgetRecord> });

export function createBudgetGate(deps: BudgetGateDeps): BudgetGate {
  const { options, clock } = deps;
  const random = deps.random ?? Math.random;
  const ledger = 'ledger' in deps ? deps.ledger : createLocalLedger(deps.store);
  let waiting = 0;

  const keyOf = (base: string, family: Family, name: string | undefined) => (name !== undefined ? `limit:${base}|name:${name}` : `limit:${base}|family:${family}`);

  async function limitKey(family: Family, keyPrint: string): Promise<string> {
    const base = `${deps.origin}|${keyPrint}`;
    return keyOf(base, family, await ledger.limitName(base, family));
  }

  /**
   * Re-derives the state from the latest one until the ledger takes it unchanged in between;
   * `merge` returns undefined when there is nothing to write.
   */
  async function update(key: string, merge: (existing: LimitState | undefined, now: number) => LimitState | undefined): Promise<void> {
    let snapshot = await ledger.read(key, clock.now());
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const now = clock.now();
      const next = merge(snapshot.state, now);
      if (!next) return;
      const ttlMs = Math.max(1, next.reopenAtMs - now + STATE_GRACE_MS);
      const outcome = await ledger.replace(key, snapshot.version, next, ttlMs, now);
      if ('replaced' in outcome) return;
      snapshot = outcome.snapshot;
    }
  }

  /** Judges the limit and reserves a call atomically; the verdict and what it was based on otherwise. */
  async function tryReserve(
    key: string,
    entitlement: Entitlement,
    deadline: number,
  ): Promise<{ ticket: Ticket; state: LimitState | undefined } | { verdict: Exclude<Verdict, { kind: 'send' }>; snapshot: LimitSnapshot; now: number }> {
    let snapshot = await ledger.read(key, clock.now());
    for (let attempt = 0; ; attempt++) {
      const now = clock.now();
      const verdict = judge(options, snapshot.state, snapshot.inFlight, now, entitlement);
      if (verdict.kind !== 'send') return { verdict, snapshot, now };
      if (attempt >= MAX_CAS_ATTEMPTS) return { verdict: { kind: 'closed', untilMs: now + PENDING_RECHECK_MS }, snapshot, now };
      const most = mostInFlight(options, snapshot.state, snapshot.inFlight, now, entitlement);
      const outcome = await ledger.reserve(key, snapshot.version, most, now, Math.max(deadline, now) + RESERVATION_GRACE_MS);
      if ('reserved' in outcome) return { ticket: outcome.reserved, state: snapshot.state };
      snapshot = outcome.snapshot;
    }
  }

  return {
    async acquire(family, keyPrint, wait, entitlement) {
      let waitedMs = 0;
      for (let round = 0; ; round++) {
        const key = await limitKey(family, keyPrint);
        const tried = await tryReserve(key, entitlement, wait.deadline);
        if ('ticket' in tried) {
          // Reserved first, so concurrent callers (of every replica) see it in flight.
          try {
            await deps.share?.spend(family, key, tried.state, entitlement.caller);
          } catch (error) {
            tried.ticket.release();
            if (error instanceof BudgetDenied) deps.telemetry.budgetGate(family, 'share');
            throw error;
          }
          if (waitedMs > 0) deps.telemetry.budgetGate(family, 'waited');
          return tried.ticket;
        }
        const { verdict, snapshot, now } = tried;
        if (verdict.kind === 'reserve' || verdict.kind === 'pacing') {
          deps.telemetry.budgetGate(family, verdict.kind === 'reserve' ? 'reserve' : 'paced');
          throw new BudgetDenied(verdict.kind, family, Math.max(1, Math.ceil(((snapshot.state?.reopenAtMs ?? now) - now) / 1000)));
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
      const base = `${deps.origin}|${keyPrint}`;
      const known = await ledger.limitName(base, family);
      const named = info.name !== 'unnamed' ? info.name : undefined;
      if (named !== undefined && known !== named) await ledger.learnLimitName(base, family, named, NAME_TTL_MS);
      const key = keyOf(base, family, named ?? known);
      await update(key, (existing, now) => {
        const resetAtMs = now + info.resetS * 1000;
        const remaining = status === 429 ? 0 : info.remaining;
        const current = existing !== undefined && now < existing.reopenAtMs;
        // An answer from a period that has already ended arrived late: it says nothing new.
        if (current && resetAtMs < existing.resetAtMs - SAME_PERIOD_TOLERANCE_MS) return undefined;
        const samePeriod = current && Math.abs(resetAtMs - existing.resetAtMs) <= SAME_PERIOD_TOLERANCE_MS;
        return {
          name: info.name === 'unnamed' ? undefined : info.name,
          limit: info.limit,
          periodMs: info.periodS > 0 ? info.periodS * 1000 : existing?.periodMs,
          // Answers arrive out of order; within a period the budget only goes down.
          remaining: samePeriod ? Math.min(existing.remaining, remaining) : remaining,
          resetAtMs: samePeriod ? existing.resetAtMs : resetAtMs,
          reopenAtMs: samePeriod ? existing.reopenAtMs : resetAtMs + random() * options.resetJitterMs,
        };
      });
    },

    async exhausted(family, keyPrint, retryAfterS) {
      const key = await limitKey(family, keyPrint);
      await update(key, (existing, now) => {
        if (existing && now < existing.reopenAtMs && existing.remaining <= 0) return undefined;
        const resetAtMs = now + retryAfterS * 1000;
        return {
          name: existing?.name,
          limit: existing?.limit,
          periodMs: existing?.periodMs,
          remaining: 0,
          resetAtMs,
          reopenAtMs: resetAtMs + random() * options.resetJitterMs,
        };
      });
    },

    async state(family, keyPrint) {
      return (await ledger.read(await limitKey(family, keyPrint), clock.now())).state;
    },

    get waiting() {
      return waiting;
    },
  };
}
