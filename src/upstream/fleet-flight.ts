import type { Clock } from '../clock.ts';
import type { FleetFlightOutcome } from '../telemetry/telemetry.ts';
import type { Flight } from './coalesce.ts';

/**
 * Coalescing across replicas (docs/replicas.md): one flight per cache key in the whole fleet, not one
 * per replica. Each replica first coalesces its own callers (coalesce.ts); its one flight then
 * asks for the key's lease. The replica that gets it produces the answer and keeps it in the
 * shared cache before letting go; the others wait for the lease to be released (or to lapse,
 * when its holder died) and look in the cache again. Whatever goes wrong with the leases (Redis
 * down, hung, too many waiters) the replica produces on its own, as one replica alone does.
 */

/** A fleet-wide lease held by this replica (redis/lease.ts). */
export interface HeldLease {
  /** Lets go and wakes the waiters; never throws. */
  release(): Promise<void>;
}

/** Why a wait for another replica's lease ended (redis/lease.ts `LeaseWait`). */
export type LeaseWaitOutcome = 'released' | 'free' | 'deadline' | 'unavailable';

/** What the engine needs of the leases: redis/lease.ts `CacheLeases` is one. */
export interface FleetLeases {
  /** The lease of `key`, or undefined when another replica holds it; throws when the store cannot answer. */
  acquire(key: string): Promise<HeldLease | undefined>;
  /** Waits until nobody holds `key`, the signal, the deadline (Clock time), or the store fails. */
  waitFor(key: string, wait: { signal: AbortSignal; deadline: number }): Promise<LeaseWaitOutcome>;
}

export interface LeasedSteps<T> {
  /** Looks in the shared cache for what another replica produced; undefined when it is not there. */
  recheck(): Promise<T | undefined>;
  /** Produces the answer (and keeps it in the cache) under the lease, or alone. */
  produce(): Promise<T>;
  /** The error of a flight whose deadline passed while another replica was still producing. */
  timedOut(): Error;
  /** How the flight was served, for metrics (not called when it timed out or its callers left). */
  settled?(outcome: FleetFlightOutcome): void;
}

/**
 * Rounds of "acquire or wait" one flight may go through. A round ends with the lease taken, a
 * deadline, or a holder done: past a few rounds other replicas keep taking the lease and failing
 * (their budget refused them, their answers are over the size cap), so this one stops waiting
 * on them and produces on its own.
 */
export const MAX_LEASE_ROUNDS = 8;

/**
 * Runs one replica's flight for `key` as the fleet's flight: under the key's lease, or by
 * waiting for the replica that holds it and reading its answer from the cache.
 */
export async function runLeased<T>(leases: FleetLeases, key: string, flight: Flight, clock: Pick<Clock, 'now'>, steps: LeasedSteps<T>): Promise<T> {
  const produce = (outcome: FleetFlightOutcome): Promise<T> => {
    steps.settled?.(outcome);
    return steps.produce();
  };
  const recheck = async (): Promise<T | undefined> => {
    const found = await steps.recheck();
    if (found !== undefined) steps.settled?.('read');
    return found;
  };
  for (let round = 0; round < MAX_LEASE_ROUNDS; round++) {
    // Every caller went away (or the latest deadline passed) while it waited: nothing to make.
    if (flight.signal.aborted) throw flight.signal.reason;
    let lease: HeldLease | undefined;
    try {
      lease = await leases.acquire(key);
    } catch {
      // The store cannot answer: coalesce with this replica's callers only.
      return produce('alone');
    }
    if (lease) {
      try {
        // Another replica may have finished between this caller's lookup and now.
        return (await recheck()) ?? (await produce(round === 0 ? 'produced' : 'took_over'));
      } finally {
        // Not awaited: the answer is kept already, and a hung store must not hold it back.
        void lease.release();
      }
    }
    const outcome = await leases.waitFor(key, { signal: flight.signal, deadline: flight.deadline });
    if (outcome === 'unavailable') return (await recheck()) ?? (await produce('alone'));
    if (outcome === 'deadline') {
      if (flight.signal.aborted) throw flight.signal.reason;
      // A caller with a later deadline joined meanwhile: wait on for it.
      if (clock.now() < flight.deadline && round + 1 < MAX_LEASE_ROUNDS) continue;
      throw steps.timedOut();
    }
    // Released (its answer should be in the cache) or free (never held, or its holder died).
    const found = await recheck();
    if (found !== undefined) return found;
  }
  return produce('alone');
}
