import { z } from 'zod';
import type { ConfigProblems } from './problems.ts';

/**
 * `[store]` and `TINKR_REDIS_URL` (docs/replicas.md#settings): the shared Redis (or Valkey) that lets several
 * replicas behave as one gateway. Without a URL, state stays in process. The URL may carry a
 * password, so no message here ever quotes it: errors name the setting and the expected form.
 */

/** Keys of all replicas of one deployment start with this; another deployment picks its own. */
export const DEFAULT_KEY_PREFIX = 'tinkr:';
/**
 * Longest any one Redis call may take before it counts as failed and the replica answers from
 * its own state: a Redis on the same network answers in about a millisecond, so a quarter of a
 * second is a hung or overloaded Redis, and still small next to a request's 30 s deadline.
 */
export const DEFAULT_STORE_TIMEOUT_MS = 250;

const URL_FORM = 'expected redis://[[user]:password@]host[:port][/db] or rediss://… (TLS)';

/** Where Redis is and who the server is to it: a `redis://` URL's parts. */
interface RedisAddress {
  host: string;
  port: number;
  db: number;
  tls: boolean;
  username: string | undefined;
  password: string | undefined;
}

/** Where Redis is and how to reach it, parsed once. */
export interface StoreConfig extends RedisAddress {
  /** `redis://host:port/db`: where the store is, for logs. Never has the password. */
  endpoint: string;
  keyPrefix: string;
  timeoutMs: number;
}

/** The parts of a `redis://` / `rediss://` URL, or undefined when it is not one. */
export function parseRedisUrl(text: string): RedisAddress | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') return undefined;
  if (!url.hostname || url.search || url.hash) return undefined;
  const path = url.pathname.replace(/^\//, '');
  if (path !== '' && !/^\d{1,4}$/.test(path)) return undefined;
  const tls = url.protocol === 'rediss:';
  return {
    // IPv6 literals come bracketed from URL; sockets want them bare.
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : 6379,
    db: path === '' ? 0 : Number(path),
    tls,
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
  };
}

/** A string that is a Redis URL; the message never repeats the value (it may hold a password). */
export const redisUrlSchema = z.string().refine((text) => parseRedisUrl(text) !== undefined, { message: URL_FORM });

export const storeSchema = z
  .object({
    /** Usually `"env:TINKR_REDIS_URL"`; `TINKR_REDIS_URL` itself wins over it. */
    url: redisUrlSchema.optional(),
    /** Usually `"env:NAME"`; wins over a password in the URL. */
    password: z.string().min(1).optional(),
    key_prefix: z
      .string()
      .regex(/^[A-Za-z0-9:._-]{0,64}$/, 'up to 64 letters, digits, ":", ".", "_" or "-"')
      .default(DEFAULT_KEY_PREFIX),
    timeout_ms: z.number().int().min(10).max(10_000).default(DEFAULT_STORE_TIMEOUT_MS),
  })
  .strict();
export type StoreFileConfig = z.infer<typeof storeSchema>;

/**
 * Refuses a password written into the file itself (before `env:` references are resolved): the
 * file is often committed or mounted from a ConfigMap, where a secret does not belong.
 */
export function checkStoreLiterals(raw: unknown, problems: ConfigProblems): void {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return;
  const table = raw as Record<string, unknown>;
  const literal = (value: unknown): value is string => typeof value === 'string' && !value.startsWith('env:');
  if (literal(table.password)) {
    problems.add('store.password', 'a literal password is refused; write "env:NAME" and put the password in that environment variable');
  }
  if (literal(table.url) && parseRedisUrl(table.url)?.password !== undefined) {
    problems.add('store.url', 'a password in the file is refused; write url = "env:TINKR_REDIS_URL" (or password = "env:NAME")');
  }
}

/**
 * The store to use: `TINKR_REDIS_URL`, else `[store] url`; none without either (state stays in
 * process). Both are already validated by their schemas; without a `[store]` table, `file` is
 * its defaults (DEFAULT_STORE).
 */
export function storeConfig(envUrl: string | undefined, file: StoreFileConfig): StoreConfig | undefined {
  const text = envUrl ?? file.url;
  if (text === undefined) return undefined;
  const address = parseRedisUrl(text)!;
  const password = file.password ?? address.password;
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return {
    ...address,
    password,
    endpoint: `${address.tls ? 'rediss' : 'redis'}://${host}:${address.port}/${address.db}`,
    keyPrefix: file.key_prefix,
    timeoutMs: file.timeout_ms,
  };
}
