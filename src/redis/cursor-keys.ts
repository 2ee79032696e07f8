import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import { CURSOR_TTL_MS, type CursorKeys } from '../signals/cursor.ts';
import type { RedisConnection } from './connection.ts';
import { defineScript } from './script.ts';

/**
 * The cursor signing key shared by every replica, when `server.cursor_secret` is not set, so
 * page 2 of a cursor from one replica can be asked of any other (docs/replicas.md states the
 * rule). One random 256-bit key lives at `<prefix>cursor-key`: the first replica that finds
 * none creates it (SET NX), every replica reads it and renews its TTL at start, every
 * `CURSOR_KEY_REFRESH_MS` and whenever Redis comes back.
 *
 * - Each replica also makes its own random key at start. It signs with it only until it has
 *   read the shared key (Redis down since it started), and always accepts it, so the cursors it
 *   issued meanwhile stay valid on it.
 * - Once read, the shared key is kept in memory: while Redis is down, replicas go on signing and
 *   accepting it, and cursors still cross replicas.
 * - If the shared key changes (Redis was emptied and a replica created a new one), a replica
 *   switches to the new key and accepts the previous one for one cursor lifetime more.
 */

/** Without a replica renewing it for a day, the key goes: every cursor it signed has expired by then. */
export const CURSOR_KEY_TTL_MS = 24 * 60 * 60_000;
/** Each replica re-reads the key this often: a replaced key is adopted within ten minutes. */
export const CURSOR_KEY_REFRESH_MS = 10 * 60_000;
const KEY_BYTES = 32;

/** Creates the key if there is none, renews its TTL, and returns it: atomically. */
const GET_OR_CREATE = defineScript(
  'tinkrCursorKey',
  `
  redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return redis.call('GET', KEYS[1])
  `,
  1,
);

export interface SharedCursorKeys extends CursorKeys {
  /** Reads (or creates) the shared key now; keeps what it has when Redis cannot answer. */
  refresh(): Promise<void>;
  /** Whether a shared key has been read. */
  readonly shared: boolean;
  close(): void;
}

export function createSharedCursorKeys(connection: RedisConnection, deps: { clock: Clock; log: Logger }): SharedCursorKeys {
  const local = randomBytes(KEY_BYTES);
  let shared: Buffer | undefined;
  let previous: { key: Buffer; until: number } | undefined;

  async function refresh(): Promise<void> {
    let key: Buffer;
    try {
      const text = await connection.run((redis) => GET_OR_CREATE(redis, [`${connection.prefix}cursor-key`], [randomBytes(KEY_BYTES).toString('base64'), CURSOR_KEY_TTL_MS]));
      key = Buffer.from(String(text), 'base64');
    } catch {
      return;
    }
    if (key.length !== KEY_BYTES || shared?.equals(key)) return;
    if (shared) {
      previous = { key: shared, until: deps.clock.now() + CURSOR_TTL_MS };
      deps.log.warn('the shared cursor key changed (Redis was emptied or replaced): cursors signed with the previous one stay valid for their lifetime');
    }
    shared = key;
  }

  const stop = new AbortController();
  const offChange = connection.health.onChange((state) => {
    if (state === 'up') void refresh();
  });
  void (async () => {
    while (!stop.signal.aborted) {
      try {
        await deps.clock.sleep(CURSOR_KEY_REFRESH_MS, stop.signal);
      } catch {
        return;
      }
      await refresh();
    }
  })();

  return {
    refresh,
    get shared() {
      return shared !== undefined;
    },
    signing: () => shared ?? local,
    verifying() {
      const keys = [shared, local];
      if (previous && deps.clock.now() < previous.until) keys.push(previous.key);
      return keys.filter((key): key is Buffer => key !== undefined);
    },
    close() {
      stop.abort();
      offChange();
    },
  };
}
