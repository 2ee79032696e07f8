import type { Clock } from '../../src/clock.ts';

interface Sleeper {
  wakeAt: number;
  resolve: () => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

/** Where a ManualClock starts unless told: the instant the tests' expected data is computed at. */
export const TEST_NOW = Date.parse('2026-11-25T04:00:00.000Z');

/** A Clock that only moves when the test says so; sleepers wake as time passes them. */
export class ManualClock implements Clock {
  #now: number;
  #sleepers: Sleeper[] = [];

  constructor(start = TEST_NOW) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (ms <= 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const sleeper: Sleeper = {
        wakeAt: this.#now + ms,
        resolve,
        reject,
        signal,
        onAbort: () => {
          this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
          reject(signal?.reason);
        },
      };
      signal?.addEventListener('abort', sleeper.onAbort, { once: true });
      this.#sleepers.push(sleeper);
    });
  }

  after(ms: number, fire: () => void): () => void {
    const cancel = new AbortController();
    this.sleep(ms, cancel.signal).then(fire, () => {});
    return () => cancel.abort();
  }

  /** Number of pending sleeps; lets a test wait until the code under test is parked. */
  get pendingSleeps(): number {
    return this.#sleepers.length;
  }

  /** How long each pending sleep has left (ms), soonest first; lets a test wait until a given wait is parked. */
  pendingWaits(): number[] {
    return this.#sleepers.map((s) => s.wakeAt - this.#now).sort((a, b) => a - b);
  }

  /** Moves time forward and wakes every sleeper whose time has come, in order. */
  advance(ms: number): void {
    this.set(this.#now + ms);
  }

  set(epochMs: number): void {
    this.#now = epochMs;
    const due = this.#sleepers.filter((s) => s.wakeAt <= epochMs).sort((a, b) => a.wakeAt - b.wakeAt);
    this.#sleepers = this.#sleepers.filter((s) => s.wakeAt > epochMs);
    for (const s of due) {
      s.signal?.removeEventListener('abort', s.onAbort);
      s.resolve();
    }
  }
}
