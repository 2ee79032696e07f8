import type { BudgetLedger } from '../upstream/budget-ledger.ts';
import type { ShareLedger } from '../upstream/fair-share.ts';
import type { Store } from '../upstream/store.ts';
import type { StoreHealth } from './health.ts';

/**
 * The shared implementation while Redis is up, the replica's own while it is degraded or when
 * a call to it fails (each call is bounded by `timeout_ms`): nothing fails a request because of
 * Redis (docs/replicas.md). During an outage each replica works from what it alone has seen, as a
 * single replica does; what it kept locally stays local, and once Redis is back values are read
 * and written there again (a value missing from Redis is a miss).
 */
export function failover<T>(shared: T, local: T, health: Pick<StoreHealth, 'up'>): <R>(call: (target: T) => Promise<R>) => Promise<R> {
  return async (call) => {
    if (!health.up) return call(local);
    try {
      return await call(shared);
    } catch {
      return call(local);
    }
  };
}

/** A `Store` that falls back to the in-process one. */
export function createFallbackStore<V>(shared: Store<V>, local: Store<V>, health: Pick<StoreHealth, 'up'>): Store<V> {
  const either = failover(shared, local, health);
  return {
    get: (key) => either((store) => store.get(key)),
    set: (key, value, options) => either((store) => store.set(key, value, options)),
    delete: (key) => either((store) => store.delete(key)),
  };
}

/**
 * A budget ledger that falls back to the replica's own. A version or reservation taken from one
 * ledger and presented to the other simply does not match, and the gate judges again from the
 * snapshot it gets back.
 */
export function createFallbackLedger(shared: BudgetLedger, local: BudgetLedger, health: Pick<StoreHealth, 'up'>): BudgetLedger {
  const either = failover(shared, local, health);
  return {
    limitName: (base, family) => either((ledger) => ledger.limitName(base, family)),
    learnLimitName: (base, family, name, ttlMs) => either((ledger) => ledger.learnLimitName(base, family, name, ttlMs)),
    read: (key, now) => either((ledger) => ledger.read(key, now)),
    reserve: (key, version, maxInFlight, now, expiresAt) => either((ledger) => ledger.reserve(key, version, maxInFlight, now, expiresAt)),
    replace: (key, version, state, ttlMs, now) => either((ledger) => ledger.replace(key, version, state, ttlMs, now)),
  };
}

/** The fair share's ledger, falling back to the replica's own: each key's share then holds per replica. */
export function createFallbackShareLedger(shared: ShareLedger, local: ShareLedger, health: Pick<StoreHealth, 'up'>): ShareLedger {
  const either = failover(shared, local, health);
  return {
    addSpend: (slot, calls, untilMs) => either((ledger) => ledger.addSpend(slot, calls, untilMs)),
    noteActive: (key, atMs) => either((ledger) => ledger.noteActive(key, atMs)),
    othersActiveSince: (key, sinceMs) => either((ledger) => ledger.othersActiveSince(key, sinceMs)),
  };
}
