import type { Clock } from '../clock.ts';

/**
 * Request coalescing ("single flight"): identical upstream requests in flight at the same time
 * share one call. The shared call belongs to nobody: a caller that hangs up or reaches its own
 * deadline stops waiting, but the call goes on for the others. It is aborted only when every
 * waiter has gone, or at the latest waiter's deadline. Its entry leaves the map on every path.
 */

export interface Waiter {
  /** Aborts when this caller stops waiting (deadline or disconnect). */
  signal: AbortSignal;
  /** This caller's deadline, epoch ms on the Clock. */
  deadline: number;
}

/** What the shared call sees: a signal that outlives any single waiter, and the latest deadline. */
export interface Flight {
  readonly signal: AbortSignal;
  readonly deadline: number;
}

export interface Coalescer {
  /**
   * Runs `start` for `key`, or joins the call already running for it. `joined` is false for
   * the caller whose request started the call.
   */
  run<T>(key: string, waiter: Waiter, start: (flight: Flight) => Promise<T>): Promise<{ value: T; joined: boolean }>;
  /** Calls in flight, and callers waiting on them (for tests and metrics). */
  readonly size: number;
  readonly waiters: number;
}

/**
 * Most distinct calls tracked at once. Far above what the concurrency limit and its queue let
 * through; beyond it requests simply run alone rather than growing the map.
 */
export const MAX_FLIGHTS = 10_000;

/** Why a shared call was aborted. */
export class FlightAbandoned extends Error {
  constructor(why: 'every caller went away' | 'the latest deadline passed') {
    super(why);
    this.name = 'FlightAbandoned';
  }
}

interface Entry {
  promise: Promise<unknown>;
  controller: AbortController;
  /** Stops the deadline timer once the call has settled. */
  cancelTimer: () => void;
  waiters: number;
  deadline: number;
}

export function createCoalescer(clock: Clock, maxFlights = MAX_FLIGHTS): Coalescer {
  const flights = new Map<string, Entry>();
  let waiting = 0;

  function forget(key: string, entry: Entry): void {
    if (flights.get(key) === entry) flights.delete(key);
  }

  /** Aborts the shared call at the latest deadline; re-arms itself when a later waiter joined. */
  function armDeadline(entry: Entry): void {
    entry.cancelTimer = clock.after(entry.deadline - clock.now(), () => {
      if (clock.now() >= entry.deadline) entry.controller.abort(new FlightAbandoned('the latest deadline passed'));
      else armDeadline(entry);
    });
  }

  function start<T>(key: string, waiter: Waiter, begin: (flight: Flight) => Promise<T>): Entry {
    const controller = new AbortController();
    const entry: Entry = { promise: Promise.resolve(), controller, cancelTimer: () => {}, waiters: 0, deadline: waiter.deadline };
    const flight: Flight = {
      signal: controller.signal,
      get deadline() {
        return entry.deadline;
      },
    };
    flights.set(key, entry);
    armDeadline(entry);
    entry.promise = (async () => begin(flight))().finally(() => {
      forget(key, entry);
      entry.cancelTimer();
    });
    // Every waiter may have gone before it settles; its failure is then nobody's to handle.
    entry.promise.catch(() => {});
    return entry;
  }

  return {
    run<T>(key: string, waiter: Waiter, begin: (flight: Flight) => Promise<T>) {
      if (waiter.signal.aborted) return Promise.reject(waiter.signal.reason);
      let entry = flights.get(key);
      const joined = entry !== undefined;
      if (!entry) {
        if (flights.size >= maxFlights) return begin(waiter).then((value) => ({ value, joined: false }));
        entry = start(key, waiter, begin);
      } else if (waiter.deadline > entry.deadline) {
        entry.deadline = waiter.deadline;
      }
      const shared = entry;
      shared.waiters++;
      waiting++;
      return new Promise<{ value: T; joined: boolean }>((resolve, reject) => {
        let done = false;
        const leave = (): boolean => {
          if (done) return false;
          done = true;
          shared.waiters--;
          waiting--;
          waiter.signal.removeEventListener('abort', onAbort);
          return true;
        };
        const onAbort = (): void => {
          if (!leave()) return;
          if (shared.waiters === 0) {
            forget(key, shared);
            shared.controller.abort(new FlightAbandoned('every caller went away'));
          }
          reject(waiter.signal.reason);
        };
        waiter.signal.addEventListener('abort', onAbort, { once: true });
        shared.promise.then(
          (value) => {
            if (leave()) resolve({ value: value as T, joined });
          },
          (error: unknown) => {
            if (leave()) reject(error);
          },
        );
      });
    },
    get size() {
      return flights.size;
    },
    get waiters() {
      return waiting;
    },
  };
}
