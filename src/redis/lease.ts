import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Clock } from '../clock.ts';
import type { RedisConnection } from './connection.ts';
import { defineScript } from './script.ts';

/**
 * Coalescing across replicas: one lease per cache key says which replica is fetching it, so the
 * others wait for the entry instead of spending the Datadog budget on the same call. A lease is
 * `SET NX PX` with a short lifetime that its holder renews while it fetches and deletes when
 * done (announcing it on one pub/sub channel). A holder that dies stops renewing, and its lease
 * lapses within `ttlMs`, long before any waiter's deadline. Waiters wake on the announcement,
 * and also look every `pollMs`, which covers a lapsed lease and a message lost in a reconnect.
 */

/**
 * Lifetime of a lease between renewals. The holder renews every third of it, so a renewal can
 * be late twice; a dead holder is replaced within three seconds, a tenth of the default
 * request deadline.
 */
export const DEFAULT_LEASE_TTL_MS = 3_000;
/** A waiter looks for the lease at least this often, whatever pub/sub says. */
export const DEFAULT_LEASE_POLL_MS = 250;
/**
 * Most waiters of one replica at once; past it a caller does not wait and fetches itself. Far
 * above what the concurrency limit and its queue let in.
 */
export const MAX_LEASE_WAITERS = 10_000;

/** Deletes the lease and announces it, only if this holder still holds it. */
const RELEASE = defineScript(
  'tinkrLeaseRelease',
  `
  if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', KEYS[2], ARGV[2])
  return 1
  `,
  2,
);
/** Extends the lease, only if this holder still holds it. */
const RENEW = defineScript(
  'tinkrLeaseRenew',
  `
  if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
  `,
  1,
);

export interface Lease {
  /** Another holder took over (this one's lease lapsed): its fetch is no longer the one waited for. */
  readonly lost: boolean;
  /** Successful renewals so far (for tests and metrics). */
  readonly renewals: number;
  /** Stops renewing, deletes the lease and wakes the waiters. Never throws. */
  release(): Promise<void>;
}

/**
 * Why a wait ended: the holder announced it was done (`released`: its entry should be in the
 * cache now), nobody holds the key (`free`: never held, or the holder died and its lease
 * lapsed), the caller's deadline or disconnect (`deadline`), or Redis cannot answer.
 */
export type LeaseWait = 'released' | 'free' | 'deadline' | 'unavailable';

export interface CacheLeases {
  /** This replica becomes the key's fetcher, or undefined when another holds it. Throws when Redis cannot answer. */
  acquire(key: string): Promise<Lease | undefined>;
  /** Waits until nobody holds `key`, the caller's signal or deadline (Clock time), or Redis fails. */
  waitFor(key: string, wait: { signal: AbortSignal; deadline: number }): Promise<LeaseWait>;
  /** Local callers waiting on a holder right now (past their first look at the lease). */
  readonly waiting: number;
  /** Stops renewals and unsubscribes; leases still held lapse on their own. */
  close(): Promise<void>;
}

export interface LeaseOptions {
  clock: Clock;
  ttlMs?: number;
  pollMs?: number;
}

export function createCacheLeases(connection: RedisConnection, options: LeaseOptions): CacheLeases {
  const { clock } = options;
  const ttlMs = options.ttlMs ?? DEFAULT_LEASE_TTL_MS;
  const pollMs = options.pollMs ?? DEFAULT_LEASE_POLL_MS;
  const leaseKey = (key: string) => `${connection.prefix}lease:${key}`;
  const channel = `${connection.prefix}leases`;
  /** Wake-ups of local waiters, by cache key. */
  const wakers = new Map<string, Set<() => void>>();
  /** Callers inside `waitFor`, and those of them blocked on a holder. */
  let callers = 0;
  let waiting = 0;
  const closing = new AbortController();
  let subscriber: Redis | undefined;
  /** Settles once the channel is subscribed (or that failed); a waiter checks the lease only after, so no release goes unheard. */
  let subscribed: Promise<void> | undefined;

  function listen(key: string, wake: () => void): () => void {
    let set = wakers.get(key);
    if (!set) wakers.set(key, (set = new Set()));
    set.add(wake);
    return () => {
      set.delete(wake);
      if (set.size === 0 && wakers.get(key) === set) wakers.delete(key);
    };
  }

  /** Subscribes once; resolves when subscribed, or after `timeout_ms` (polling covers the rest). */
  async function subscribe(): Promise<void> {
    if (!subscriber) {
      subscriber = connection.subscriber();
      subscriber.on('message', (from: string, key: string) => {
        if (from !== channel) return;
        for (const wake of wakers.get(key) ?? []) wake();
      });
      subscribed = subscriber.subscribe(channel).then(
        () => {},
        () => {},
      );
    }
    const stop = new AbortController();
    await Promise.race([subscribed, clock.sleep(connection.timeoutMs, stop.signal).catch(() => {})]);
    stop.abort();
  }

  return {
    async acquire(key) {
      const token = randomUUID();
      const taken = await connection.run((redis) => redis.set(leaseKey(key), token, 'PX', ttlMs, 'NX'));
      if (taken !== 'OK') return undefined;
      const stop = new AbortController();
      let lost = false;
      let renewals = 0;
      void (async () => {
        while (!stop.signal.aborted && !closing.signal.aborted) {
          try {
            await clock.sleep(ttlMs / 3, AbortSignal.any([stop.signal, closing.signal]));
            const kept = await connection.run((redis) => RENEW(redis, [leaseKey(key)], [token, ttlMs]));
            if (kept === 1) renewals++;
            else lost = true;
            if (lost) return;
          } catch {
            // Stopped, or Redis did not answer: the next round tries again; the lease may lapse.
          }
        }
      })();
      return {
        get lost() {
          return lost;
        },
        get renewals() {
          return renewals;
        },
        async release() {
          stop.abort();
          await connection.run((redis) => RELEASE(redis, [leaseKey(key), channel], [token, key])).catch(() => {});
        },
      };
    },

    async waitFor(key, wait) {
      if (callers >= MAX_LEASE_WAITERS || !connection.health.up) return 'unavailable';
      callers++;
      let heard = false;
      try {
        await subscribe();
        for (;;) {
          let held: number;
          try {
            held = await connection.run((redis) => redis.exists(leaseKey(key)));
          } catch {
            return 'unavailable';
          }
          if (held === 0) return heard ? 'released' : 'free';
          const left = wait.deadline - clock.now();
          if (wait.signal.aborted || left <= 0) return 'deadline';
          // Whichever comes first: the holder's announcement, the next poll, the caller giving up.
          const stopSleep = new AbortController();
          let unlisten = () => {};
          const woken = new Promise<void>((resolve) => {
            unlisten = listen(key, () => {
              heard = true;
              resolve();
            });
          });
          waiting++;
          await Promise.race([woken, clock.sleep(Math.min(pollMs, left), AbortSignal.any([stopSleep.signal, wait.signal, closing.signal])).catch(() => {})]);
          waiting--;
          stopSleep.abort();
          unlisten();
          if (closing.signal.aborted) return 'unavailable';
        }
      } finally {
        callers--;
      }
    },

    get waiting() {
      return waiting;
    },

    async close() {
      closing.abort();
      if (!subscriber) return;
      // Bounded like every store call: a hung Redis never confirms, and the connection's own
      // close drops the subscription anyway.
      const stop = new AbortController();
      await Promise.race([subscriber.unsubscribe(channel).catch(() => {}), clock.sleep(connection.timeoutMs, stop.signal).catch(() => {})]);
      stop.abort();
    },
  };
}
