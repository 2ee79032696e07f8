import { AppError } from '../errors.ts';

/**
 * A bound on what answers being produced hold in memory at once. An answer is built from
 * Datadog's pages, parsed, and its records are all alive until it is serialised: a 5,000-log
 * answer holds about 10 MB while it is made, a 500-log one a tenth of that. The concurrency
 * limit counts calls, not what they hold, so sixteen 5,000-log answers at once would add 160 MB
 * to the heap. Each production declares a weight (the records it may hold) and waits, in order,
 * until the weights in production leave room for it; an answer heavier than the whole bound is
 * made alone. Cache hits never come here.
 */

/**
 * Records in production at once: two 5,000-log answers, or twenty of 500 (more than the
 * concurrency limit lets through anyway). About 20 MB of heap: with a full cache, RSS stays
 * under docs/budget-and-caching.md's 384 MiB even when every request asks for 5,000 logs (measured: peak
 * 370 MiB at 16 at once, against 470 MiB unbounded).
 */
export const DEFAULT_MAX_WEIGHT_IN_PRODUCTION = 10_000;
/** Productions waiting for room: as many as calls may wait for a slot (concurrency.ts). */
export const DEFAULT_MAX_PRODUCTIONS_QUEUED = 256;
/** Suggested wait when the queue is full: about one production finishing. */
const QUEUE_FULL_RETRY_AFTER_S = 1;

export interface ProductionGate {
  /** Waits until `weight` fits (or rejects with the signal's reason); call the result when done. */
  admit(weight: number, signal: AbortSignal): Promise<() => void>;
  /** Weight in production and productions waiting, for tests and metrics. */
  readonly inProduction: number;
  readonly queued: number;
}

interface Waiting {
  weight: number;
  grant: () => void;
  signal: AbortSignal;
  onAbort: () => void;
}

export function createProductionGate(maxWeight = DEFAULT_MAX_WEIGHT_IN_PRODUCTION, maxQueued = DEFAULT_MAX_PRODUCTIONS_QUEUED): ProductionGate {
  let inProduction = 0;
  const queue: Waiting[] = [];
  const fits = (weight: number) => inProduction === 0 || inProduction + weight <= maxWeight;

  /** Lets in, in order, whoever now fits: the head waits until it does, so a heavy answer is not passed over for ever. */
  function drain(): void {
    while (queue.length > 0 && fits(queue[0]!.weight)) {
      const next = queue.shift()!;
      next.signal.removeEventListener('abort', next.onAbort);
      next.grant();
    }
  }

  function admitted(weight: number): () => void {
    inProduction += weight;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      inProduction -= weight;
      drain();
    };
  }

  return {
    admit(rawWeight, signal) {
      if (signal.aborted) return Promise.reject(signal.reason);
      const weight = Math.max(1, Math.min(maxWeight, Math.ceil(rawWeight)));
      if (queue.length === 0 && fits(weight)) return Promise.resolve(admitted(weight));
      if (queue.length >= maxQueued) {
        return Promise.reject(
          new AppError('NOT_READY', `too many large answers in production; retry in ${QUEUE_FULL_RETRY_AFTER_S} s`, { retryAfterS: QUEUE_FULL_RETRY_AFTER_S }),
        );
      }
      return new Promise((resolve, reject) => {
        const item: Waiting = {
          weight,
          grant: () => resolve(admitted(weight)),
          signal,
          onAbort: () => {
            const at = queue.indexOf(item);
            if (at >= 0) queue.splice(at, 1);
            reject(signal.reason);
            // A heavy answer that gave up at the head may have been all that held the others back.
            drain();
          },
        };
        signal.addEventListener('abort', item.onAbort, { once: true });
        queue.push(item);
      });
    },
    get inProduction() {
      return inProduction;
    },
    get queued() {
      return queue.length;
    },
  };
}
