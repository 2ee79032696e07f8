import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/auth/keyring.ts';
import { parseCommandLine } from '../../src/config/args.ts';
import { StartupError } from '../../src/config/errors.ts';
import { loadConfig } from '../../src/config/load.ts';
import { DEFAULT_KEY_PREFIX, DEFAULT_STORE_TIMEOUT_MS, parseRedisUrl } from '../../src/config/store.ts';

/** `TINKR_REDIS_URL` and `[store]` (docs/replicas.md#settings), through loadConfig as the server reads them. */

const SECRET = 'store-config-secret-9b2';
const ENV = { TINKR_BACKEND: 'datadog', DD_API_KEY: 'a', DD_APP_KEY: 'b', TINKR_API_KEYS: JSON.stringify([{ hash: sha256Hex('t'), subject: 's', roles: ['viewer'] }]) };

function load(env: Record<string, string>, toml?: string) {
  const dir = mkdtempSync(join(tmpdir(), 'tinkr-store-config-'));
  const args = toml === undefined ? [] : ['--config', join(dir, 'config.toml')];
  if (toml !== undefined) writeFileSync(join(dir, 'config.toml'), `[auth]\napi_keys = [{ hash = "${sha256Hex('t')}", subject = "s", roles = ["viewer"] }]\n[profiles.p]\nbackend = "datadog"\n${toml}`);
  return loadConfig({ args: parseCommandLine(args), env: { ...ENV, ...env }, homeDir: dir, cwd: dir });
}

function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof StartupError) {
      expect(error.exitCode).toBe(78);
      return error.message;
    }
    throw error;
  }
  throw new Error('expected a StartupError');
}

describe('the shared store configuration', () => {
  it('is absent without TINKR_REDIS_URL or [store] url: state stays in process', () => {
    expect(load({}).store).toBeUndefined();
    expect(load({}, '[store]\nkey_prefix = "x:"\n').store).toBeUndefined();
  });

  it('reads TINKR_REDIS_URL with the defaults; the endpoint for logs has no password', () => {
    expect(load({ TINKR_REDIS_URL: `redis://:${SECRET}@cache.internal:6380/2` }).store).toEqual({
      host: 'cache.internal',
      port: 6380,
      db: 2,
      tls: false,
      username: undefined,
      password: SECRET,
      endpoint: 'redis://cache.internal:6380/2',
      keyPrefix: DEFAULT_KEY_PREFIX,
      timeoutMs: DEFAULT_STORE_TIMEOUT_MS,
    });
    expect(DEFAULT_KEY_PREFIX).toBe('tinkr:');
    expect(DEFAULT_STORE_TIMEOUT_MS).toBe(250);
  });

  it('reads [store] with env: references; TINKR_REDIS_URL wins over its url, its password over the URL\'s', () => {
    const toml = '[store]\nurl = "env:CACHE_URL"\npassword = "env:CACHE_PASSWORD"\nkey_prefix = "team-a:"\ntimeout_ms = 100\n';
    const fromFile = load({ CACHE_URL: 'rediss://tinkr:url-pass@cache.internal', CACHE_PASSWORD: SECRET }, toml).store!;
    expect(fromFile).toMatchObject({ host: 'cache.internal', port: 6379, db: 0, tls: true, username: 'tinkr', password: SECRET, endpoint: 'rediss://cache.internal:6379/0', keyPrefix: 'team-a:', timeoutMs: 100 });
    const overridden = load({ CACHE_URL: 'redis://file-host', CACHE_PASSWORD: SECRET, TINKR_REDIS_URL: 'redis://env-host:7000' }, toml).store!;
    expect(overridden).toMatchObject({ host: 'env-host', port: 7000, password: SECRET, keyPrefix: 'team-a:' });
  });

  it('accepts IPv6 hosts and percent-encoded passwords', () => {
    expect(parseRedisUrl('redis://:p%40ss%3Aword@[::1]:6390')).toMatchObject({ host: '::1', port: 6390, password: 'p@ss:word' });
    expect(load({ TINKR_REDIS_URL: 'redis://[::1]:6390' }).store!.endpoint).toBe('redis://[::1]:6390/0');
  });

  it.each([
    ['another scheme', `http://:${SECRET}@cache:6379`],
    ['no host', `redis://:${SECRET}@:6379`],
    ['a port out of range', `redis://:${SECRET}@cache:70000`],
    ['a path that is not a database number', `redis://:${SECRET}@cache:6379/zero`],
    ['query parameters', `redis://:${SECRET}@cache:6379/0?tls=true`],
    ['not a URL', `${SECRET}`],
  ])('refuses %s with exit 78, naming the setting and never the value', (_what, url) => {
    const message = failure(() => load({ TINKR_REDIS_URL: url }));
    expect(message).toBe('environment: TINKR_REDIS_URL: expected redis://[[user]:password@]host[:port][/db] or rediss://… (TLS)');
    const fromFile = failure(() => load({ CACHE_URL: url }, '[store]\nurl = "env:CACHE_URL"\n'));
    expect(fromFile).toMatch(/config\.toml: store\.url: expected redis:\/\//);
    expect(fromFile).not.toContain(SECRET);
  });

  it.each([
    ['an unknown key', '[store]\nurl = "env:CACHE_URL"\npasword = "x"\n', 'store: unknown key "pasword"'],
    ['a bad prefix', '[store]\nurl = "env:CACHE_URL"\nkey_prefix = "has space"\n', 'store.key_prefix: up to 64 letters'],
    ['a timeout out of range', '[store]\nurl = "env:CACHE_URL"\ntimeout_ms = 60000\n', 'store.timeout_ms: '],
    ['a literal password', `[store]\nurl = "env:CACHE_URL"\npassword = "${SECRET}"\n`, 'store.password: a literal password is refused'],
    ['a literal URL with a password', `[store]\nurl = "redis://:${SECRET}@cache"\n`, 'store.url: a password in the file is refused'],
  ])('refuses %s in [store] with exit 78', (_what, toml, expected) => {
    const message = failure(() => load({ CACHE_URL: 'redis://cache' }, toml));
    expect(message).toContain(expected);
    expect(message).not.toContain(SECRET);
  });

  it('accepts a literal URL without a password', () => {
    expect(load({}, '[store]\nurl = "redis://cache.internal:6379"\n').store?.host).toBe('cache.internal');
  });
});
