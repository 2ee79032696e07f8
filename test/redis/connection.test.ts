import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.ts';
import { storeConfig, storeSchema } from '../../src/config/store.ts';
import { createRedisConnection, StoreUnavailable, type RedisConnection } from '../../src/redis/connection.ts';
import { createPrometheusTelemetry } from '../../src/telemetry/prometheus.ts';
import { capturedLog } from '../helpers/captured-log.ts';
import { eventually } from '../helpers/eventually.ts';
import { freePort } from '../helpers/free-port.ts';
import { parsePrometheus, valueOf } from '../helpers/prometheus.ts';
import { makeTestCertificates, type TestCertificates } from '../secrets/fakes/tls.ts';
import { startTestRedis, TEST_STORE_TIMEOUT_MS, type TestRedis } from '../helpers/redis-server.ts';

/**
 * The connection to a real redis-server and its health: up and degraded, one log line per
 * change, `tinkr_store_up`, every call bounded by `timeout_ms`, and the password nowhere.
 */

const PASSWORD = 'c0nn-redis-pa55-8f2e1d';
let redis: TestRedis;
const open: RedisConnection[] = [];

beforeAll(async () => {
  redis = await startTestRedis({ password: PASSWORD });
});
afterAll(() => redis.close());
afterEach(async () => {
  for (const connection of open.splice(0)) await connection.close();
  if (!redis.running) await redis.restart();
  redis.resume();
});

function connect(url: string, timeoutMs = TEST_STORE_TIMEOUT_MS) {
  const log = capturedLog();
  const telemetry = createPrometheusTelemetry({ version: 'test', defaultMetrics: false });
  const connection = createRedisConnection(storeConfig(url, storeSchema.parse({ timeout_ms: timeoutMs }))!, { log: log.logger, telemetry, clock: systemClock });
  open.push(connection);
  const storeUp = async () => valueOf(parsePrometheus(await telemetry.metrics()), 'tinkr_store_up');
  const warnings = () => log.lines().filter((l) => l.level === 'warn').map((l) => l.msg as string);
  return { connection, log, telemetry, storeUp, warnings };
}

describe('the Redis connection', () => {
  it('comes up, answers, and reports tinkr_store_up 1 with one info line', async () => {
    const { connection, log, storeUp } = connect(redis.url);
    expect(connection.health.state).toBe('starting');
    await connection.settled(5_000);
    await eventually(() => connection.health.up, 'the store is up');
    expect(await connection.run((client) => client.ping())).toBe('PONG');
    expect(await storeUp()).toBe(1);
    expect(log.lines().map((l) => [l.level, l.msg])).toEqual([['info', 'shared store connected: state is shared with the other replicas']]);
    expect(log.lines()[0]!.store).toBe(`redis://127.0.0.1:${redis.port}/0`);
  });

  it('goes degraded when Redis is killed (calls refused at once), and back up when it restarts: one warning each way', async () => {
    const { connection, log, storeUp, warnings } = connect(redis.url);
    await eventually(() => connection.health.up, 'the store is up');
    await redis.kill();
    await eventually(() => connection.health.state === 'degraded', 'the store is degraded');
    await expect(connection.run((client) => client.ping())).rejects.toBeInstanceOf(StoreUnavailable);
    expect(await storeUp()).toBe(0);
    await redis.restart();
    await eventually(() => connection.health.up, 'the store is back', 15_000);
    expect(await storeUp()).toBe(1);
    expect(warnings()).toEqual([
      "shared store degraded: serving with this replica's own state until it answers again",
      'shared store is back: sharing state with the other replicas again',
    ]);
    expect(log.text()).not.toContain(PASSWORD);
  });

  it('counts a hung Redis (SIGSTOP) as down: a call ends at timeout_ms, and the store comes back on SIGCONT', async () => {
    const { connection, warnings, log } = connect(redis.url);
    await eventually(() => connection.health.up, 'the store is up');
    redis.pause();
    await expect(connection.run((client) => client.get('anything'))).rejects.toThrow(/timed out/);
    expect(connection.health.state).toBe('degraded');
    await expect(connection.run((client) => client.get('anything'))).rejects.toBeInstanceOf(StoreUnavailable);
    redis.resume();
    await eventually(() => connection.health.up, 'the store is back');
    expect(warnings()).toEqual([
      "shared store degraded: serving with this replica's own state until it answers again",
      'shared store is back: sharing state with the other replicas again',
    ]);
    expect(log.text()).not.toContain(PASSWORD);
  });

  it('notices a hang with no traffic at all, by its probe', async () => {
    const { connection } = connect(redis.url);
    await eventually(() => connection.health.up, 'the store is up');
    redis.pause();
    await eventually(() => connection.health.state === 'degraded', 'the probe finds it hung');
    redis.resume();
    await eventually(() => connection.health.up, 'the probe finds it back');
  });

  it('starts degraded when nothing listens, says so once, and comes up when Redis appears', async () => {
    const port = await freePort();
    const { connection, warnings, storeUp } = connect(`redis://:${PASSWORD}@127.0.0.1:${port}`);
    await connection.settled(5_000);
    expect(connection.health.state).toBe('degraded');
    expect(await storeUp()).toBe(0);
    expect(warnings()).toEqual(["shared store unreachable at start: serving with this replica's own state until it answers"]);
  });

  it('treats a wrong password as down, and logs neither password', async () => {
    const { connection, log } = connect(`redis://:wrong-${PASSWORD}@127.0.0.1:${redis.port}`);
    await connection.settled(5_000);
    expect(connection.health.state).toBe('degraded');
    expect(log.lines().find((l) => l.level === 'warn')!.reason).toMatch(/WRONGPASS|NOAUTH/);
    expect(log.text()).not.toContain(PASSWORD);
  });

  it('a command Redis refuses fails that call only: the store stays up', async () => {
    const { connection } = connect(redis.url);
    await eventually(() => connection.health.up, 'the store is up');
    await connection.run((client) => client.set('a-string', 'x'));
    await expect(connection.run((client) => client.lpush('a-string', 'y'))).rejects.toThrow(/WRONGTYPE/);
    expect(connection.health.up).toBe(true);
  });
});

describe('rediss:// (TLS)', () => {
  let certificates: TestCertificates;
  let tlsRedis: TestRedis;
  beforeAll(async () => {
    certificates = makeTestCertificates();
    const { writeFileSync } = await import('node:fs');
    const { join, dirname } = await import('node:path');
    const dir = dirname(certificates.caPath);
    writeFileSync(join(dir, 'redis.pem'), certificates.cert);
    writeFileSync(join(dir, 'redis.key'), certificates.key);
    tlsRedis = await startTestRedis({ password: PASSWORD, tls: { certFile: join(dir, 'redis.pem'), keyFile: join(dir, 'redis.key') } });
  });
  afterAll(async () => {
    await tlsRedis?.close();
    certificates?.dispose();
  });

  it('connects over TLS to a server whose CA is trusted, and not to one whose is not', async () => {
    const { default: tls } = await import('node:tls');
    const untrusted = connect(tlsRedis.url);
    await untrusted.connection.settled(5_000);
    expect(untrusted.connection.health.state).toBe('degraded');
    expect(untrusted.log.text()).not.toContain(PASSWORD);

    tls.setDefaultCACertificates([...tls.getCACertificates('default'), certificates.caPem]);
    const trusted = connect(tlsRedis.url);
    await eventually(() => trusted.connection.health.up, 'the TLS store is up');
    expect(await trusted.connection.run((client) => client.ping())).toBe('PONG');
  });
});
