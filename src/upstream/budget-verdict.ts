import type { BudgetOptions, Entitlement, LimitState } from './budget.ts';

/**
 * The budget gate's judgement, as a pure function of what is known about a limit, the calls
 * in flight on it, the time and what the caller has cached. Pure so that the gate can judge
 * first and then reserve atomically in a shared ledger "if nothing changed meanwhile".
 */

export type Verdict = { kind: 'send' } | { kind: 'reserve' } | { kind: 'pacing' } | { kind: 'closed'; untilMs: number };

/** Budget known to be spent only by calls still in flight: look again after this. */
export const PENDING_RECHECK_MS = 1_000;

export const reserveOf = (options: BudgetOptions, limit: number) => Math.ceil(limit * options.reserveFraction);

/**
 * Whether spending now would run ahead of the pace line: the budget above the reserve should
 * shrink no faster than the period does, give or take a burst. With `left` calls left (in
 * flight counted), `usable = limit - reserve` and a share `f` of the period still to go, a
 * call is on pace while `left - reserve >= usable * f - burst`.
 */
function aheadOfPace(options: BudgetOptions, state: LimitState, left: number, now: number): boolean {
  if (!options.pacing || state.limit === undefined || !state.periodMs) return false;
  const reserve = reserveOf(options, state.limit);
  const usable = state.limit - reserve;
  const share = Math.min(1, Math.max(0, (state.resetAtMs - now) / state.periodMs));
  const burst = Math.ceil(state.limit * options.burstFraction);
  return left - reserve < usable * share - burst;
}

export function judge(options: BudgetOptions, state: LimitState | undefined, inFlight: number, now: number, entitlement: Entitlement): Verdict {
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
  if (state.limit !== undefined && left <= reserveOf(options, state.limit) && cached) return { kind: 'reserve' };
  // A new period starts with the whole budget; pacing is about the current one.
  if (!newPeriod && cached && (entitlement.fallbackAgeMs ?? 0) < options.maxPacedAgeMs && aheadOfPace(options, state, left, now)) {
    return { kind: 'pacing' };
  }
  return { kind: 'send' };
}

/**
 * The most calls that may be in flight with this call still judged `send`, given that it is
 * at `inFlight`. Every refusal only gets likelier as more calls are in flight (less is left),
 * so the answer is found by bisection; a reservation then succeeds whatever other replicas
 * reserved meanwhile, as long as they stay within it.
 */
export function mostInFlight(options: BudgetOptions, state: LimitState | undefined, inFlight: number, now: number, entitlement: Entitlement): number {
  if (!state || (now >= state.reopenAtMs && state.limit === undefined)) return Number.MAX_SAFE_INTEGER;
  const sends = (n: number) => judge(options, state, n, now, entitlement).kind === 'send';
  let low = inFlight;
  // `left` must stay above 0, so past this nothing is sent.
  let high = Math.max(inFlight, (now >= state.reopenAtMs ? state.limit! : state.remaining) - 1);
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (sends(middle)) low = middle;
    else high = middle - 1;
  }
  return low;
}
