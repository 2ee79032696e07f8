import type { Clock } from '../clock.ts';
import type { Family } from '../upstream-call.ts';
import type { BudgetRecord, LimitState, Ticket } from './budget.ts';
import { createMemoryStore, type Store } from './store.ts';

/**
 * Where the budget gate keeps what it knows about each limit, and the calls in flight on it.
 * With one replica that is process memory (`createLocalLedger`); with several it is Redis
 * (redis/budget-ledger.ts), where two replicas must never both spend the last call. So the gate
 * reads a snapshot, judges it, and then asks the ledger to reserve a call, or to replace the
 * state, only if the state is still the one it judged: compare-and-set, atomic in the ledger.
 */

/** One limit as last read. */
export interface LimitSnapshot {
  state: LimitState | undefined;
  /** Calls started and not yet answered, by every replica sharing the ledger. */
  inFlight: number;
  /** The state as stored (its JSON; '' for none): what `reserve` and `replace` compare. */
  version: string;
}

export interface BudgetLedger {
  /** The limit `family` spends for `base` (API origin and key fingerprint), once a header named it. */
  limitName(base: string, family: Family): Promise<string | undefined>;
  learnLimitName(base: string, family: Family, name: string, ttlMs: number): Promise<void>;
  read(key: string, now: number): Promise<LimitSnapshot>;
  /**
   * One call more in flight, if the state is still `version` and at most `maxInFlight` calls are
   * in flight; else the snapshot as it now is. A reservation not released by `expiresAt` (its
   * replica died mid-call) stops counting then.
   */
  reserve(key: string, version: string, maxInFlight: number, now: number, expiresAt: number): Promise<{ reserved: Ticket } | { snapshot: LimitSnapshot }>;
  /** Replaces the state if it is still `version`; else the snapshot as it now is. */
  replace(key: string, version: string, state: LimitState, ttlMs: number, now: number): Promise<{ replaced: true } | { snapshot: LimitSnapshot }>;
}

/** The version of a state: its JSON, the same text a shared ledger stores. */
export const versionOf = (state: LimitState | undefined): string => (state ? JSON.stringify(state) : '');

/**
 * The ledger of a single replica, on a `Store` (the bounded in-memory one by default). Its
 * operations run one at a time, so a compare and the write that follows it cannot interleave
 * with another's, whatever the store does between its awaits.
 */
export function createLocalLedger(store: Store<BudgetRecord>): BudgetLedger {
  /** Calls this replica has started and not yet seen answered, per limit. */
  const pending = new Map<string, number>();
  let queue: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(operation: () => Promise<T>): Promise<T> => {
    const result = queue.then(operation);
    queue = result.catch(() => {});
    return result;
  };

  async function snapshot(key: string): Promise<LimitSnapshot> {
    const record = await store.get(key);
    const state = record && 'remaining' in record ? record : undefined;
    return { state, inFlight: pending.get(key) ?? 0, version: versionOf(state) };
  }

  function ticket(key: string): Ticket {
    pending.set(key, (pending.get(key) ?? 0) + 1);
    let released = false;
    return {
      release() {
        if (released) return;
        released = true;
        const left = (pending.get(key) ?? 1) - 1;
        if (left > 0) pending.set(key, left);
        else pending.delete(key);
      },
    };
  }

  return {
    async limitName(base, family) {
      const named = await store.get(`name:${base}|${family}`);
      return named && 'name' in named && 'family' in named ? named.name : undefined;
    },
    async learnLimitName(base, family, name, ttlMs) {
      await store.set(`name:${base}|${family}`, { family, name }, { ttlMs });
    },
    read: (key) => exclusive(() => snapshot(key)),
    reserve: (key, version, maxInFlight) =>
      exclusive(async () => {
        const now = await snapshot(key);
        if (now.version !== version || now.inFlight > maxInFlight) return { snapshot: now };
        return { reserved: ticket(key) };
      }),
    replace: (key, version, state, ttlMs) =>
      exclusive(async () => {
        const now = await snapshot(key);
        if (now.version !== version) return { snapshot: now };
        await store.set(key, state, { ttlMs });
        return { replaced: true as const };
      }),
  };
}

/** Limits tracked in process: a handful per key, a few keys over rotations. */
const MEMORY_LEDGER_MAX_ENTRIES = 1_000;
const MEMORY_LEDGER_MAX_BYTES = 1024 * 1024;

/** The default ledger: process memory, bounded, expiring on the server's Clock. */
export function createMemoryLedger(clock: Clock): BudgetLedger {
  return createLocalLedger(createMemoryStore<BudgetRecord>({ maxBytes: MEMORY_LEDGER_MAX_BYTES, maxEntries: MEMORY_LEDGER_MAX_ENTRIES, clock }));
}
