import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { StoreConfig } from '../config/store.ts';
import type { Telemetry } from '../telemetry/telemetry.ts';
import { createStoreHealth, type StoreHealth } from './health.ts';

/**
 * The one connection of a replica to the shared Redis, and the rules every call through it
 * follows (docs/replicas.md): a call is made only while the store is up; it is bounded by
 * `timeout_ms` (ioredis's command timeout), so a hung Redis counts as down; commands are never
 * queued while disconnected, nor resent after a reconnect (a reservation or a counter must not
 * be applied twice); reconnection retries forever with a capped back-off, and a probe notices
 * both a silent hang and the return of Redis.
 */

/**
 * Longest a TCP (and TLS) connection attempt may take: a Redis on the same network connects in
 * milliseconds; two seconds allow a slow cross-zone TLS handshake. Also the longest a start
 * waits for the first attempt, so a replica starts sharing from its first request.
 */
export const CONNECT_TIMEOUT_MS = 2_000;
/** First reconnection delay; doubled per failed attempt. */
const RECONNECT_BASE_MS = 100;
/**
 * Longest delay between reconnection attempts: Redis's return is noticed within two seconds,
 * and a down Redis costs each replica one connection attempt every two seconds.
 */
export const MAX_RECONNECT_DELAY_MS = 2_000;
/**
 * One PING a second per replica: a Redis that hung while no request used it is noticed within
 * a second (and one that came back, too). Negligible load on Redis.
 */
export const PROBE_INTERVAL_MS = 1_000;

/** The store is degraded: the caller uses its own state instead. Never reaches an HTTP answer. */
export class StoreUnavailable extends Error {
  constructor(reason: string) {
    super(`shared store unavailable: ${reason}`);
    this.name = 'StoreUnavailable';
  }
}

export interface RedisConnection {
  readonly health: StoreHealth;
  /** `[store] key_prefix`: every key this replica writes starts with it. */
  readonly prefix: string;
  readonly timeoutMs: number;
  /** Runs `call` while the store is up (StoreUnavailable at once otherwise); a failure to answer marks it degraded. */
  run<T>(call: (client: Redis) => Promise<T>): Promise<T>;
  /**
   * Sends a clean-up nobody waits for (a release), even while degraded: a hung Redis that
   * resumes still gets it. Never throws; still bounded by `timeout_ms` and never queued offline.
   */
  tidy(call: (client: Redis) => Promise<unknown>): void;
  /** A second connection, for SUBSCRIBE (a subscribed connection can send nothing else). */
  subscriber(): Redis;
  /** Resolves when the first connection attempt has ended either way, or after `ms`. */
  settled(ms: number): Promise<void>;
  close(): Promise<void>;
}

export interface ConnectionDeps {
  log: Logger;
  telemetry: Telemetry;
  clock: Clock;
  random?: () => number;
}

/** Errors with which Redis answered yet is not serving: these count as down, like no answer. */
const NOT_SERVING = /^(NOAUTH|WRONGPASS|LOADING|BUSY|MASTERDOWN|READONLY)\b/;

/** Whether `error` means Redis did not serve (as opposed to refusing one command). */
function isOutage(error: unknown): boolean {
  const e = error as { name?: unknown; message?: unknown } | null;
  if (e?.name !== 'ReplyError') return true;
  return NOT_SERVING.test(String(e.message));
}

export function createRedisConnection(config: StoreConfig, deps: ConnectionDeps): RedisConnection {
  const random = deps.random ?? Math.random;
  const password = config.password;
  const scrub = (text: string) => (password ? text.split(password).join('[redacted]') : text);
  const health = createStoreHealth({ log: deps.log, telemetry: deps.telemetry, endpoint: config.endpoint, scrub });
  const options = {
    host: config.host,
    port: config.port,
    db: config.db,
    username: config.username,
    password,
    ...(config.tls ? { tls: {} } : {}),
    connectTimeout: CONNECT_TIMEOUT_MS,
    commandTimeout: config.timeoutMs,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    lazyConnect: true,
    // Capped exponential back-off with jitter, so replicas do not reconnect in step.
    retryStrategy: (times: number) => Math.round(Math.min(RECONNECT_BASE_MS * 2 ** Math.min(times - 1, 10), MAX_RECONNECT_DELAY_MS) * (0.8 + random() * 0.4)),
    connectionName: 'tinkr-server',
  };
  const client = new Redis(options);
  let subscriber: Redis | undefined;
  let closing = false;

  client.on('error', (error: Error) => {
    if (!closing) health.failed(error.message);
  });
  client.on('close', () => {
    if (!closing) health.failed('connection closed');
  });
  client.on('ready', () => void probe());
  client.connect().catch(() => {
    // Reported through the 'error' event; ioredis keeps reconnecting.
  });

  async function probe(): Promise<void> {
    if (closing) return;
    if (client.status !== 'ready') {
      if (health.up) health.failed(`connection ${client.status}`);
      return;
    }
    try {
      await client.ping();
      if (!closing) health.succeeded();
    } catch (error) {
      if (!closing) health.failed((error as Error).message);
    }
  }

  const stopProbing = new AbortController();
  void (async () => {
    while (!stopProbing.signal.aborted) {
      try {
        await deps.clock.sleep(PROBE_INTERVAL_MS, stopProbing.signal);
      } catch {
        return;
      }
      await probe();
    }
  })();

  return {
    health,
    prefix: config.keyPrefix,
    timeoutMs: config.timeoutMs,

    async run(call) {
      if (!health.up) throw new StoreUnavailable(health.state);
      try {
        return await call(client);
      } catch (error) {
        if (isOutage(error) && !closing) health.failed((error as Error).message);
        throw error;
      }
    },

    tidy(call) {
      if (closing) return;
      call(client).catch(() => {
        // Whatever it cleans up expires on its own.
      });
    },

    subscriber() {
      if (!subscriber) {
        // Subscriptions are few and made once; the offline queue lets them wait for a connection.
        subscriber = client.duplicate({ enableOfflineQueue: true, commandTimeout: undefined, connectionName: 'tinkr-server-subscriber' });
        subscriber.on('error', () => {
          // The main connection reports the store's health; this one only reconnects.
        });
        subscriber.connect().catch(() => {});
      }
      return subscriber;
    },

    settled(ms) {
      if (health.state !== 'starting') return Promise.resolve();
      return new Promise<void>((resolve) => {
        const stop = new AbortController();
        const done = () => {
          off();
          stop.abort();
          resolve();
        };
        const off = health.onChange(done);
        deps.clock.sleep(ms, stop.signal).then(done, () => {});
      });
    },

    async close() {
      closing = true;
      stopProbing.abort();
      subscriber?.disconnect();
      client.disconnect();
    },
  };
}
