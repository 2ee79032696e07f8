import { AppError } from '../errors.ts';

/**
 * A bound on concurrent calls to Datadog from this replica, with a bounded queue in front of it.
 * Cache hits and coalesced callers never take a slot; only real upstream calls do. When the
 * queue is full the request fails at once with 503 `NOT_READY` and `Retry-After`: the server is
 * temporarily overloaded, which is what 503 means (RFC 9110 §15.6.4); a 429 would blame the
 * caller's own quota (`RATE_LIMITED`) or Datadog's budget (`UPSTREAM_RATE_LIMITED`), neither of
 * which is the cause, and clients and load balancers already retry a 503 with Retry-After.
 */

export interface ConcurrencyOptions {
  maxActive: number;
  maxQueued: number;
}

/**
 * Calls to Datadog at once. The transport keeps 16 sockets (datadog/client.ts); more
 * concurrent calls would only queue inside undici, where no bound or deadline applies.
 */
export const DEFAULT_MAX_CONCURRENT = 16;
/**
 * Calls waiting for a slot. 256 is sixteen rounds of the slots: at a typical 0.5–2 s per search
 * that is well inside the 30 s request deadline, while a burst beyond it fails fast.
 */
export const DEFAULT_MAX_QUEUED = 256;
/** Suggested wait after a full queue: about one upstream call frees a slot. */
export const QUEUE_FULL_RETRY_AFTER_S = 1;

export interface Limiter {
  /** Waits for a slot (or rejects with the signal's reason); call the result to give it back. */
  acquire(signal: AbortSignal): Promise<() => void>;
  readonly active: number;
  readonly queued: number;
}

interface Queued {
  grant: () => void;
  signal: AbortSignal;
  onAbort: () => void;
}

export function createLimiter(options: ConcurrencyOptions): Limiter {
  let active = 0;
  const queue: Queued[] = [];

  function release(): void {
    const next = queue.shift();
    if (next) {
      next.signal.removeEventListener('abort', next.onAbort);
      next.grant();
    } else {
      active--;
    }
  }

  function slot(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      release();
    };
  }

  return {
    acquire(signal) {
      if (signal.aborted) return Promise.reject(signal.reason);
      if (active < options.maxActive) {
        active++;
        return Promise.resolve(slot());
      }
      if (queue.length >= options.maxQueued) {
        return Promise.reject(
          new AppError(
            'NOT_READY',
            `too many Datadog calls in progress (${options.maxActive} running, ${options.maxQueued} waiting); retry in ${QUEUE_FULL_RETRY_AFTER_S} s`,
            { retryAfterS: QUEUE_FULL_RETRY_AFTER_S },
          ),
        );
      }
      return new Promise((resolve, reject) => {
        const item: Queued = {
          // The slot passes straight from the releasing call to this one: `active` is unchanged.
          grant: () => resolve(slot()),
          signal,
          onAbort: () => {
            const at = queue.indexOf(item);
            if (at >= 0) queue.splice(at, 1);
            reject(signal.reason);
          },
        };
        signal.addEventListener('abort', item.onAbort, { once: true });
        queue.push(item);
      });
    },
    get active() {
      return active;
    },
    get queued() {
      return queue.length;
    },
  };
}
