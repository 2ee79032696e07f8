import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.ts';
import { AppError } from '../errors.ts';
import type { Telemetry } from '../telemetry/telemetry.ts';
import { signalName, type Family } from '../upstream-call.ts';
import type { Warning } from '../warnings.ts';
import { BudgetDenied, type LimitState } from './budget.ts';
import type { UpstreamCaller } from './types.ts';

/**
 * The fair share of Datadog's budget (docs/budget-and-caching.md#fair-share). Datadog's limits are per organisation, so
 * one script sending hundreds of distinct queries would otherwise spend the budget every
 * dashboard needs for the rest of the hour. Each key may spend at most its share
 * (`upstream_share`, default half) of a limit in a period while another key is active (made a
 * request in the last five minutes); a key alone may spend it all. The budget gate asks here
 * before each call it lets through; past its share a key gets its stale answer or a 429
 * `RATE_LIMITED`, and the others keep getting fresh data.
 *
 * Spends are counted per (limit, period, key) as the gate knows the limit from
 * `X-RateLimit-*`, in a ledger: in memory by default, shared by a store so the shares hold
 * across replicas. A spend is the key's whose request made the call (a coalesced call is spent
 * by the request that started it). Until Datadog has named a limit and its size, nothing is
 * held back (there is no share of an unknown limit), but the spend is still shown in metrics.
 */

/** Half of each limit: two busy keys split it evenly, and a third still finds some left. */
export const DEFAULT_UPSTREAM_SHARE = 0.5;
/** A key that made a request within this long is active (docs/budget-and-caching.md#fair-share). */
export const ACTIVE_KEY_WINDOW_MS = 5 * 60_000;
/**
 * A key's activity is written to the ledger at most this often: every request counts, and a
 * shared ledger must not cost a round trip per cache hit. Ten seconds is noise against the
 * five-minute window.
 */
export const ACTIVITY_NOTE_INTERVAL_MS = 10_000;
/** Keys whose last note this replica remembers; past it the memory starts over (a few extra writes). */
const MAX_NOTED_KEYS = 10_000;
/** A spend record outlives its period by this much, so answers arriving just after the reset still find it. */
const SPEND_GRACE_MS = 60_000;

/** One key's spend of one limit in one period: plain data, so a shared store can hold it. */
export interface SpendSlot {
  /** The gate's name of the limit (Datadog site, API key fingerprint and `X-RateLimit-Name`); no secret. */
  limit: string;
  /** Which period of that limit (see `currentPeriod`). */
  period: number;
  /** The caller key's id. */
  key: string;
}

/**
 * What the fair share keeps. Asynchronous so that a shared store (Redis: `INCRBY` with
 * `PEXPIREAT` for spends, a sorted set by time for activity) can implement it. An
 * implementation may fail; the fair share then lets the call through (the budget gate still
 * guards the whole limit).
 */
export interface ShareLedger {
  /** Adds `calls` (negative: gives them back) to a slot and returns its new total; kept until `untilMs`. */
  addSpend(slot: SpendSlot, calls: number, untilMs: number): Promise<number>;
  /** Notes that `key` made a request at `atMs`. */
  noteActive(key: string, atMs: number): Promise<void>;
  /** Whether a key other than `key` made a request at or after `sinceMs`. */
  othersActiveSince(key: string, sinceMs: number): Promise<boolean>;
}

/** Slots kept in memory: a few keys × a handful of limits × two periods, with room to spare. */
export const DEFAULT_LEDGER_MAX_SPENDS = 10_000;

/**
 * The in-process ledger. Activity only ever needs the two most recently active keys (is the
 * newest one that is not me recent enough?), so that is all it keeps.
 */
export function createMemoryShareLedger(options: { clock: Clock; maxSpends?: number }): ShareLedger {
  const spends = new LRUCache<string, { calls: number; untilMs: number }>({ max: options.maxSpends ?? DEFAULT_LEDGER_MAX_SPENDS });
  let newest: Array<{ key: string; atMs: number }> = [];
  return {
    async addSpend(slot, calls, untilMs) {
      const id = `${slot.limit}\u0000${slot.period}\u0000${slot.key}`;
      const held = spends.get(id);
      const total = Math.max(0, (held && held.untilMs > options.clock.now() ? held.calls : 0) + calls);
      spends.set(id, { calls: total, untilMs: Math.max(untilMs, held?.untilMs ?? 0) });
      return total;
    },
    async noteActive(key, atMs) {
      const before = newest.find((entry) => entry.key === key);
      const entry = { key, atMs: Math.max(atMs, before?.atMs ?? atMs) };
      newest = [entry, ...newest.filter((e) => e.key !== key)].sort((a, b) => b.atMs - a.atMs).slice(0, 2);
    },
    async othersActiveSince(key, sinceMs) {
      const other = newest.find((entry) => entry.key !== key);
      return other !== undefined && other.atMs >= sinceMs;
    },
  };
}

/** A key past its share was refused a call; it gets its stale answer or 429 `RATE_LIMITED`. */
export class ShareDenied extends BudgetDenied {
  /** The key refused: a caller of another key may still spend its own share. */
  readonly keyId: string;
  readonly spent: number;
  readonly allowed: number;
  readonly limit: number;

  constructor(family: Family, caller: UpstreamCaller, spent: number, allowed: number, limit: number, retryAfterS: number) {
    super('share', family, retryAfterS);
    this.name = 'ShareDenied';
    this.keyId = caller.keyId;
    this.spent = spent;
    this.allowed = allowed;
    this.limit = limit;
    const percent = Math.round(caller.upstreamShare * 100);
    this.message = `this key has spent its share of the Datadog ${signalName(family)} budget (${percent} %: ${spent} of ${limit} calls this period) while other keys are active`;
  }

  /** What the key gets when nothing cached can answer: 429 until the limit's next period. */
  refusal(): AppError {
    return new AppError('RATE_LIMITED', `${this.message}; retry in ${this.retryAfterS} s`, { retryAfterS: this.retryAfterS });
  }

  /** Said with the key's cached answer instead (`meta.warnings`). */
  staleWarning(ageS: number): Warning {
    return { code: 'budget_share', message: `${this.message}, until the next period in ${this.retryAfterS} s; this answer is from the cache, ${ageS} s old` };
  }
}

export interface FairShare {
  /** A request of `caller` (a cache hit too): it is active. Never waits for the ledger, never throws. */
  seen(caller: UpstreamCaller | undefined): void;
  /**
   * Spends one call of a limit for `caller`, or throws ShareDenied when the caller is past its
   * share while another key is active. `limitKey` names the limit, `state` is what the gate
   * knows of it (undefined before any answer).
   */
  spend(family: Family, limitKey: string, state: LimitState | undefined, caller: UpstreamCaller | undefined): Promise<void>;
}

export interface FairShareDeps {
  ledger: ShareLedger;
  clock: Clock;
  telemetry: Telemetry;
}

/**
 * The period of a limit at `now`: a number naming it, and when it ends. Datadog's periods are
 * calendar aligned (`X-RateLimit-Period`: "length of time in seconds for resets (calendar
 * aligned)"), so the clock alone names the period, the same way on every replica, before any
 * answer of it has arrived, and whatever a 429's shorter `Retry-After` did to the gate's
 * reopening time. Undefined while the size of the limit or of its period is unknown.
 */
export function currentPeriod(state: LimitState, now: number): { id: number; resetAtMs: number } | undefined {
  if (state.limit === undefined || !state.periodMs) return undefined;
  const id = Math.floor(now / state.periodMs);
  return { id, resetAtMs: (id + 1) * state.periodMs };
}

export function createFairShare(deps: FairShareDeps): FairShare {
  const { ledger, clock, telemetry } = deps;
  /** When this replica last wrote each key's activity. */
  const noted = new Map<string, number>();

  return {
    seen(caller) {
      if (!caller) return;
      const now = clock.now();
      const last = noted.get(caller.keyId);
      if (last !== undefined && now >= last && now - last < ACTIVITY_NOTE_INTERVAL_MS) return;
      if (noted.size >= MAX_NOTED_KEYS) noted.clear();
      noted.set(caller.keyId, now);
      ledger.noteActive(caller.keyId, now).catch(() => {});
    },

    async spend(family, limitKey, state, caller) {
      if (!caller) return;
      const now = clock.now();
      const period = state ? currentPeriod(state, now) : undefined;
      const limit = state?.limit;
      if (period && limit !== undefined) {
        const slot: SpendSlot = { limit: limitKey, period: period.id, key: caller.keyId };
        const untilMs = period.resetAtMs + SPEND_GRACE_MS;
        // At least one call, so a small share of a small limit still lets a key ask something.
        const allowed = Math.max(1, Math.floor(caller.upstreamShare * limit));
        let refused: ShareDenied | undefined;
        try {
          const shared = caller.upstreamShare < 1 && (await ledger.othersActiveSince(caller.keyId, now - ACTIVE_KEY_WINDOW_MS));
          const total = await ledger.addSpend(slot, 1, untilMs);
          if (shared && total > allowed) {
            await ledger.addSpend(slot, -1, untilMs);
            const retryAfterS = Math.max(1, Math.ceil((period.resetAtMs - now) / 1000));
            refused = new ShareDenied(family, caller, total - 1, allowed, limit, retryAfterS);
          }
        } catch {
          // A failing ledger must not stop the call: the gate still guards the whole limit.
        }
        if (refused) throw refused;
      }
      telemetry.upstreamSpend(caller.subject, family);
    },
  };
}
