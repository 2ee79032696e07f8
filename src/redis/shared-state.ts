import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { StoreConfig } from '../config/store.ts';
import type { SharedQuotaCounter } from '../http/quota.ts';
import type { Telemetry } from '../telemetry.ts';
import { createMemoryLedger, type BudgetLedger } from '../upstream/budget-ledger.ts';
import { createMemoryShareLedger, type ShareLedger } from '../upstream/fair-share.ts';
import { createRedisLedger } from './budget-ledger.ts';
import { CONNECT_TIMEOUT_MS, createRedisConnection, type RedisConnection } from './connection.ts';
import { createSharedCursorKeys, type SharedCursorKeys } from './cursor-keys.ts';
import { createFallbackLedger, createFallbackShareLedger } from './fallback.ts';
import { createRedisQuotaCounter } from './quota-counter.ts';
import { createRedisShareLedger } from './share-ledger.ts';

/**
 * Everything a replica shares with the others through Redis (DESIGN §7), each part falling
 * back to the replica's own state while Redis cannot answer: the budget ledger, each key's fair
 * share of it, the per-caller quota counts and the cursor signing key. (Cache entries and cross-replica coalescing are built,
 * redis/store.ts and redis/lease.ts, and join here once the pipeline takes them.)
 */
export interface SharedState {
  connection: RedisConnection;
  budget: BudgetLedger;
  shares: ShareLedger;
  quotas: SharedQuotaCounter;
  cursorKeys: SharedCursorKeys;
  /** `/readyz`'s `store`. */
  readiness(): 'ok' | 'degraded';
  close(): Promise<void>;
}

export interface SharedStateDeps {
  log: Logger;
  clock: Clock;
  telemetry: Telemetry;
}

/**
 * Connects (in the background) and builds the shared parts. `ready()` waits, at most for one
 * connection attempt, so that a replica whose Redis is up shares from its first request, and
 * one whose Redis is down starts anyway.
 */
export function createSharedState(config: StoreConfig, deps: SharedStateDeps): SharedState & { ready(): Promise<void> } {
  const connection = createRedisConnection(config, deps);
  const cursorKeys = createSharedCursorKeys(connection, deps);
  return {
    connection,
    budget: createFallbackLedger(createRedisLedger(connection), createMemoryLedger(deps.clock), connection.health),
    shares: createFallbackShareLedger(createRedisShareLedger(connection, deps.clock), createMemoryShareLedger({ clock: deps.clock }), connection.health),
    quotas: createRedisQuotaCounter(connection),
    cursorKeys,
    readiness: () => (connection.health.up ? 'ok' : 'degraded'),
    async ready() {
      await connection.settled(CONNECT_TIMEOUT_MS);
      await cursorKeys.refresh();
    },
    async close() {
      cursorKeys.close();
      await connection.close();
    },
  };
}
