import { seededRandom } from '../lib/stats.ts';

/**
 * When each dashboard refreshes: dashboard d opens at d/N of the first interval (so fifty
 * dashboards do not all fire at t = 0), then refreshes every interval, each refresh moved by a
 * random jitter of ±jitter/2 of the interval (browser timers drift). Seeded: the same options
 * give the same schedule, so the gateway and the pass-through baseline see the same load.
 */

export interface ScheduleOptions {
  dashboards: number;
  durationMs: number;
  intervalMs: number;
  /** Fraction of the interval a refresh may move, in all (0.1 → ±5 %). */
  jitter: number;
  seed: number;
}

export interface Refresh {
  /** Milliseconds after the start of the run. */
  atMs: number;
  dashboard: number;
  /** 0 for the first load, then 1, 2, ... */
  refresh: number;
}

/** Refreshes that start before `durationMs`, in time order. */
export function fleetSchedule(options: ScheduleOptions): Refresh[] {
  const random = seededRandom(options.seed);
  const out: Refresh[] = [];
  for (let d = 0; d < options.dashboards; d++) {
    const offset = (d / options.dashboards) * options.intervalMs;
    for (let k = 0; ; k++) {
      const shift = k === 0 ? 0 : (random() - 0.5) * options.jitter * options.intervalMs;
      const atMs = Math.max(0, Math.round(offset + k * options.intervalMs + shift));
      if (atMs >= options.durationMs) break;
      out.push({ atMs, dashboard: d, refresh: k });
    }
  }
  return out.sort((a, b) => a.atMs - b.atMs || a.dashboard - b.dashboard);
}
