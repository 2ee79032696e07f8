import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { StoreConfig } from '../config/store.ts';
import type { SharedQuotaCounter } from '../http/quota.ts';
import type { Telemetry } from '../telemetry/telemetry.ts';
import type { CacheRecord } from '../upstream/answer-cache.ts';
import { createMemoryLedger, type BudgetLedger } from '../upstream/budget-ledger.ts';
import { createMemoryShareLedger, type ShareLedger } from '../upstream/fair-share.ts';
import type { Store } from '../upstream/store.ts';
import { createRedisLedger } from './budget-ledger.ts';
import { sharedCacheStore, type SharedCacheOptions } from './cache-store.ts';
import { CONNECT_TIMEOUT_MS, createRedisConnection, type RedisConnection } from './connection.ts';
import { createSharedCursorKeys, type SharedCursorKeys } from './cursor-keys.ts';
import { createFallbackLedger, createFallbackShareLedger } from './fallback.ts';
import { createCacheLeases, type CacheLeases } from './lease.ts';
import { createRedisQuotaCounter } from './quota-counter.ts';
import { createRedisShareLedger } from './share-ledger.ts';

/**
 * Everything a replica shares with the others through Redis (docs/replicas.md), each part falling
 * back to the replica's own state while Redis cannot answer: the finished-answer cache and a
 * lease per cache key (one production per answer in the fleet), the budget ledger, each key's
 * fair share of it, the per-caller quota counts and the cursor signing key.
 */
export interface SharedState {
  connection: RedisConnection;
  budget: BudgetLedger;
  shares: ShareLedger;
  quotas: SharedQuotaCounter;
  cursorKeys: SharedCursorKeys;
  /** Who produces which answer in the fleet (fleet-flight.ts). */
  leases: CacheLeases;
  /** The answer cache in Redis, with `local` (the replica's own, bounded store) for what cannot be shared. */
  cacheStore(local: Store<CacheRecord>): Store<CacheRecord>;
  /** `/readyz`'s `store`. */
  readiness(): 'ok' | 'degraded';
  close(): Promise<void>;
}

export interface SharedStateDeps {
  log: Logger;
  clock: Clock;
  telemetry: Telemetry;
  /** The answer cache's options (cache-store.ts); the defaults in production. */
  cache?: SharedCacheOptions;
}

/**
 * Connects (in the background) and builds the shared parts. `ready()` waits, at most for one
 * connection attempt, so that a replica whose Redis is up shares from its first request, and
 * one whose Redis is down starts anyway.
 */
export function createSharedState(config: StoreConfig, deps: SharedStateDeps): SharedState & { ready(): Promise<void> } {
  const connection = createRedisConnection(config, deps);
  const cursorKeys = createSharedCursorKeys(connection, deps);
  const leases = createCacheLeases(connection, { clock: deps.clock });
  return {
    connection,
    budget: createFallbackLedger(createRedisLedger(connection), createMemoryLedger(deps.clock), connection.health),
    shares: createFallbackShareLedger(createRedisShareLedger(connection, deps.clock), createMemoryShareLedger({ clock: deps.clock }), connection.health),
    quotas: createRedisQuotaCounter(connection),
    cursorKeys,
    leases,
    cacheStore: (local) => sharedCacheStore(connection, local, deps.clock, deps.cache),
    readiness: () => (connection.health.up ? 'ok' : 'degraded'),
    async ready() {
      await connection.settled(CONNECT_TIMEOUT_MS);
      await cursorKeys.refresh();
    },
    async close() {
      cursorKeys.close();
      await leases.close();
      await connection.close();
    },
  };
}
