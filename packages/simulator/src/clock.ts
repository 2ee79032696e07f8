import { setTimeout as delay } from 'node:timers/promises';

/**
 * Time as the simulator sees it: "now" decides which synthetic data exists, when a rate-limit
 * period ends and how long an injected latency lasts. Tests pass a clock they drive instead of
 * sleeping. The package stands alone, so it declares the little it needs; any clock with these
 * two methods fits, the gateway's own included.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    await delay(Math.max(0, ms), undefined, signal ? { signal } : undefined);
  },
};
