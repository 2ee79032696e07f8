import { setTimeout as delay } from 'node:timers/promises';

/**
 * Time as the server sees it. Everything that reads the time or waits goes through a Clock so
 * tests can drive time exactly (see test/helpers/manual-clock.ts) instead of sleeping.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /**
   * Calls `fire` after `ms` unless the returned cancel is called first. For deadlines, which are
   * nearly always cancelled: no promise, no signal and no AbortError per timer.
   */
  after(ms: number, fire: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    await delay(Math.max(0, ms), undefined, signal ? { signal } : undefined);
  },
  after: (ms, fire) => {
    const timer = setTimeout(fire, Math.max(0, ms));
    return () => clearTimeout(timer);
  },
};

/**
 * `clock.sleep` for background loops (the periodic secret refresh, key re-checks): on the
 * system clock the timer is unreferenced, so a loop never holds the process open by itself; an
 * injected test clock is used as is.
 */
export function backgroundSleep(clock: Clock): Clock['sleep'] {
  if (clock !== systemClock) return (ms, signal) => clock.sleep(ms, signal);
  return async (ms, signal) => {
    await delay(Math.max(0, ms), undefined, { ref: false, ...(signal ? { signal } : {}) });
  };
}
