import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Clock } from '../clock.ts';

/**
 * When event-loop lag is real overload and when it is only start-up or a hiccup. One slow
 * sample says little: module loading, JIT compilation and the first TLS handshakes block the
 * loop right after start, and on a busy host one descheduled second or one long GC pause makes
 * a single sample's mean delay huge. Shedding on one sample refused requests of a server that
 * was fine (`/health` 503 right after start). So lag counts only after a start-up grace period,
 * and only when it lasts: several samples in a row over the threshold.
 */

/**
 * No lag-based shedding for this long after the server starts listening. Start-up bursts
 * (lazy imports, JIT, the key check, the first connections) are over within seconds even on a
 * loaded machine; a server that is still lagging after this is lagging because of its load.
 */
export const STARTUP_GRACE_MS = 30_000;
/**
 * Samples in a row over the threshold before shedding starts (3 s at the default one-second
 * sample). One sample is a GC pause or a descheduled process; three are a loop that cannot
 * keep up. One sample under the threshold ends the shedding: recovery should be quick.
 */
export const LAG_SAMPLES_TO_SHED = 3;
/** Resolution of Node's delay histogram: its timer fires this often; that much is not lag. */
const HISTOGRAM_RESOLUTION_MS = 10;

/** A source of event-loop delay readings. Production: Node's histogram; tests inject their own. */
export interface LagProbe {
  /** Reads every `intervalMs`, calling `onSample` with the mean delay (ms) since the last reading; returns a stop function. */
  start(intervalMs: number, onSample: (delayMs: number) => void): () => void;
}

/**
 * Node's `monitorEventLoopDelay`, read on an unreferenced timer (it never holds the process).
 * The histogram is never reset: after a reset it records nothing until its timer has ticked
 * twice, so a loop blocked in long stretches would read as "no data". The mean of each
 * interval comes from the running totals instead. When the histogram's timer did not tick at
 * all, the lateness of the reading itself is the delay.
 */
export const eventLoopDelayProbe: LagProbe = {
  start(intervalMs, onSample) {
    const histogram = monitorEventLoopDelay({ resolution: HISTOGRAM_RESOLUTION_MS });
    histogram.enable();
    let count = 0;
    let totalNs = 0;
    let readAt = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      const nextCount = histogram.count;
      const nextTotalNs = nextCount > 0 ? histogram.mean * nextCount : 0;
      const meanMs = nextCount > count ? (nextTotalNs - totalNs) / (nextCount - count) / 1e6 - HISTOGRAM_RESOLUTION_MS : now - readAt - intervalMs;
      count = nextCount;
      totalNs = nextTotalNs;
      readAt = now;
      onSample(Math.max(0, meanMs));
    }, intervalMs);
    timer.unref();
    return () => {
      clearInterval(timer);
      histogram.disable();
    };
  },
};

export interface LagJudgeOptions {
  /** Mean delay per sample above which a sample counts as lagging; 0 disables the check. */
  maxDelayMs: number;
  /** Default LAG_SAMPLES_TO_SHED. */
  samplesToShed?: number;
  /** Default STARTUP_GRACE_MS. */
  graceMs?: number;
  clock: Clock;
}

/** Decides, from the samples so far, whether the loop is overloaded now. */
export class LagJudge {
  readonly #maxDelayMs: number;
  readonly #samplesToShed: number;
  readonly #graceMs: number;
  readonly #clock: Clock;
  #startedAt: number | undefined;
  /** Samples over the threshold in a row, counted only after the grace period. */
  #streak = 0;
  #lastDelayMs = 0;

  constructor(options: LagJudgeOptions) {
    this.#maxDelayMs = options.maxDelayMs;
    this.#samplesToShed = Math.max(1, options.samplesToShed ?? LAG_SAMPLES_TO_SHED);
    this.#graceMs = options.graceMs ?? STARTUP_GRACE_MS;
    this.#clock = options.clock;
  }

  /** The server is listening: the grace period starts now. Later calls change nothing. */
  started(): void {
    this.#startedAt ??= this.#clock.now();
  }

  /** True until the server has listened for the grace period. */
  inGrace(): boolean {
    return this.#startedAt === undefined || this.#clock.now() < this.#startedAt + this.#graceMs;
  }

  record(delayMs: number): void {
    this.#lastDelayMs = delayMs;
    // Lag during start-up does not count, not even towards a streak that outlasts it.
    if (this.#maxDelayMs <= 0 || this.inGrace()) {
      this.#streak = 0;
      return;
    }
    this.#streak = delayMs > this.#maxDelayMs ? this.#streak + 1 : 0;
  }

  /** The last sample's delay (ms) while the loop is overloaded; undefined when requests should be served. */
  overloaded(): number | undefined {
    if (this.#maxDelayMs <= 0 || this.#streak < this.#samplesToShed || this.inGrace()) return undefined;
    return this.#lastDelayMs;
  }
}
