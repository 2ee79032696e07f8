import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/load.ts';
import { eventually } from '../helpers/eventually.ts';
import { freePort } from '../helpers/free-port.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { startReplicas, type Replica } from '../helpers/replicas.ts';
import { startTestSimulator, type TestSimulator } from '../helpers/simulator.ts';

/**
 * Redis failing under three serving replicas (docs/replicas.md): killed, hung (SIGSTOP) and restarted
 * while requests flow, and unreachable when a replica starts. No request fails or outlives its
 * deadline because of it, `/readyz` stays 200 and says `degraded`, each replica logs one
 * warning per change, sharing resumes when Redis is back, and the password is in no output.
 */

const PASSWORD = 'faults-redis-pa55-7e3c1a';
/**
 * Short, so that a request held up by Redis would show as a 5xx (504) rather than pass
 * unnoticed; long enough for one wait of STORE_TIMEOUT_MS on a loaded machine.
 */
const REQUEST_TIMEOUT_MS = 10_000;
/** Above production's 250 ms so that a loaded machine seldom looks like a Redis fault; the checks below allow it anyway. */
const STORE_TIMEOUT_MS = 1_000;
/** Bound of the client's own wait: a request still open past it has outlived its deadline. */
const CLIENT_BOUND_MS = REQUEST_TIMEOUT_MS + 10_000;

let sim: TestSimulator;
let redis: TestRedis;
const started: Replica[] = [];

beforeAll(async () => {
  sim = await startTestSimulator();
  redis = await startTestRedis({ password: PASSWORD });
});
afterEach(async () => {
  for (const replica of started.splice(0)) await replica.running.close();
  redis.resume();
  if (!redis.running) await redis.restart();
});
afterAll(async () => {
  sim.assertNoViolations();
  await sim.close();
  await redis.close();
});

const adjust = (config: Config): Config => ({
  ...config,
  server: { ...config.server, requestTimeoutMs: REQUEST_TIMEOUT_MS },
  store: config.store && { ...config.store, timeoutMs: STORE_TIMEOUT_MS },
});

async function fleet(count: number, redisUrl = redis.url): Promise<Replica[]> {
  const replicas = await startReplicas(count, { simUrl: sim.url, redisUrl, adjust });
  started.push(...replicas);
  return replicas;
}

interface Outcome {
  path: string;
  status: number | 'no answer in time';
  body: string;
}

const PATHS = ['/logs?service=checkout&since=15m&limit=2', '/logs?service=payments-api&since=15m&limit=3', '/logs?since=bogus', '/readyz', '/metrics?from=-1h&query=avg:system.cpu.user{*}'];

/** Each replica answers requests back to back while `during` runs; every answer is kept. */
async function underLoad(replicas: Replica[], during: (outcomes: Outcome[]) => Promise<void>): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  let stop = false;
  const loops = replicas.map(async (replica, r) => {
    for (let i = r; !stop; i++) {
      const path = PATHS[i % PATHS.length]!;
      try {
        const res = await replica.get(path, { signal: AbortSignal.timeout(CLIENT_BOUND_MS) });
        outcomes.push({ path, status: res.status, body: await res.text() });
      } catch {
        outcomes.push({ path, status: 'no answer in time', body: '' });
      }
    }
  });
  try {
    await during(outcomes);
  } finally {
    stop = true;
    await Promise.all(loops);
  }
  return outcomes;
}

/** Waits until `more` further answers have come in (the fleet kept serving through a phase). */
const served = (outcomes: Outcome[], more: number) => {
  const target = outcomes.length + more;
  return eventually(() => outcomes.length >= target, `${more} more answers`, 30_000);
};

const storeOf = async (replica: Replica) => ((await (await replica.get('/readyz')).json()) as { store: string }).store;
const storeUp = async (replica: Replica) => (await replica.metrics()).find((s) => s.name === 'tinkr_store_up')?.value;

function expectServedThroughout(outcomes: Outcome[]): void {
  expect(outcomes.length).toBeGreaterThan(0);
  expect(outcomes.filter((o) => o.status === 'no answer in time' || o.status >= 500)).toEqual([]);
  expect(outcomes.filter((o) => o.path === '/readyz' && o.status !== 200)).toEqual([]);
  for (const outcome of outcomes) expect(outcome.body).not.toContain(PASSWORD);
}

async function expectNoPassword(replicas: Replica[]): Promise<void> {
  for (const replica of replicas) {
    expect(replica.output()).not.toContain(PASSWORD);
    expect(await (await replica.get('/readyz')).text()).not.toContain(PASSWORD);
    expect(await (await fetch(replica.running.metricsUrl!)).text()).not.toContain(PASSWORD);
  }
}

const warnings = (replica: Replica) => replica.log.lines().filter((l) => l.level === 'warn').map((l) => String(l.msg));
const DEGRADED = "shared store degraded: serving with this replica's own state until it answers again";
const BACK = 'shared store is back: sharing state with the other replicas again';

/**
 * One warning per change of state: they alternate, from degraded to back. (A machine loaded
 * enough to stall a call past the timeout adds a pair; the fault itself makes the first.)
 */
function expectOneWarningPerChange(replica: Replica): void {
  const changes = warnings(replica).filter((w) => w === DEGRADED || w === BACK);
  expect(changes.length).toBeGreaterThanOrEqual(2);
  expect(changes.length % 2).toBe(0);
  changes.forEach((w, i) => expect(w).toBe(i % 2 === 0 ? DEGRADED : BACK));
}

describe('Redis faults under three serving replicas', () => {
  it('killed, then restarted: the fleet serves on, degraded, and shares again once Redis is back', async () => {
    const replicas = await fleet(3);
    const outcomes = await underLoad(replicas, async (seen) => {
      await served(seen, 9);
      await redis.kill();
      for (const replica of replicas) await eventually(async () => (await storeOf(replica)) === 'degraded', 'every replica reports degraded');
      for (const replica of replicas) expect(await storeUp(replica)).toBe(0);
      await served(seen, 15);
      await redis.restart();
      for (const replica of replicas) await eventually(async () => (await storeOf(replica)) === 'ok', 'every replica shares again', 20_000);
      await served(seen, 9);
    });
    expectServedThroughout(outcomes);
    for (const replica of replicas) {
      await eventually(async () => (await storeUp(replica)) === 1, 'tinkr_store_up is 1 again');
      expectOneWarningPerChange(replica);
      // Redis came back empty (no persistence here), so the fleet made a new cursor key.
      expect(warnings(replica)).toContain('the shared cursor key changed (Redis was emptied or replaced): cursors signed with the previous one stay valid for their lifetime');
    }
    await expectNoPassword(replicas);
  });

  it('hung (SIGSTOP), then resumed: no request waits on it past timeout_ms, and sharing resumes', async () => {
    const replicas = await fleet(3);
    const outcomes = await underLoad(replicas, async (seen) => {
      await served(seen, 9);
      redis.pause();
      for (const replica of replicas) await eventually(async () => (await storeOf(replica)) === 'degraded', 'every replica reports degraded');
      await served(seen, 15);
      redis.resume();
      for (const replica of replicas) await eventually(async () => (await storeOf(replica)) === 'ok', 'every replica shares again', 20_000);
      await served(seen, 9);
    });
    expectServedThroughout(outcomes);
    for (const replica of replicas) expectOneWarningPerChange(replica);
    await expectNoPassword(replicas);
  });

  it('serve cached answers through it all: shared before, each replica\'s own while Redis is hung or gone, shared again after', async () => {
    const replicas = await fleet(3);
    const [a, b, c] = replicas as [Replica, Replica, Replica];
    // Day-long panels: fresh for a minute, so the test runs in one or two of their buckets.
    const panel = '/logs?service=checkout&since=24h&limit=4';
    const ask = async (replica: Replica, path = panel) => {
      const res = await replica.get(path, { signal: AbortSignal.timeout(CLIENT_BOUND_MS) });
      const body = await res.text();
      expect(res.status, body).toBe(200);
      expect(body).not.toContain(PASSWORD);
      return res.headers.get('x-tinkr-cache');
    };
    // Served from a cache, this replica's or the shared one (stale: a bucket rolled meanwhile).
    const cached = expect.stringMatching(/^(hit|stale)$/);
    const made = expect.stringMatching(/^(miss|stale)$/);

    expect(await ask(a)).toBe('miss');
    expect(await ask(b)).toEqual(cached);

    redis.pause();
    for (const replica of replicas) await eventually(async () => (await storeOf(replica)) === 'degraded', 'every replica reports degraded');
    // The shared answer is out of reach: C makes its own once, then serves it.
    expect(await ask(c)).toEqual(made);
    expect(await ask(c)).toEqual(cached);
    redis.resume();
    for (const replica of replicas) await eventually(async () => (await storeOf(replica)) === 'ok', 'every replica shares again', 20_000);
    expect(await ask(a)).toEqual(cached);

    await redis.kill();
    for (const replica of replicas) await eventually(async () => (await storeOf(replica)) === 'degraded', 'every replica reports degraded');
    // C's own answer, made while Redis was hung, is still served.
    expect(await ask(c)).toEqual(cached);
    await redis.restart();
    for (const replica of replicas) await eventually(async () => (await storeOf(replica)) === 'ok', 'every replica shares again', 20_000);
    // Redis came back empty: C still serves its own, and a new answer made on A is shared with B.
    expect(await ask(c)).toEqual(cached);
    const other = '/logs?service=payments-api&since=24h&limit=4';
    expect(await ask(a, other)).toEqual(made);
    expect(await ask(b, other)).toEqual(cached);
    expect(redis.cli('KEYS', 'tinkr:cache:c:*')).not.toBe('');
    await expectNoPassword(replicas);
  });

  it('unreachable when a replica starts: it starts and serves, degraded, and joins the fleet once Redis answers', async () => {
    const port = await freePort();
    const url = `redis://:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}`;
    const [early] = await fleet(1, url);
    expect((await early!.get('/logs?service=checkout&since=15m&limit=2')).status).toBe(200);
    expect(await storeOf(early!)).toBe('degraded');
    expect(await storeUp(early!)).toBe(0);
    expect(warnings(early!)).toEqual(["shared store unreachable at start: serving with this replica's own state until it answers"]);

    const late = await startTestRedis({ password: PASSWORD, port });
    try {
      await eventually(async () => (await storeOf(early!)) === 'ok', 'the early replica connects', 20_000);
      const [joined] = await fleet(1, url);
      // Both now sign with the one shared key: a cursor from the newcomer works on the early one.
      const first = (await (await joined!.get('/logs?service=checkout&since=2h&limit=3')).json()) as { meta: { next_cursor: string } };
      const page2 = await early!.get(`/logs?service=checkout&since=2h&limit=3&cursor=${encodeURIComponent(first.meta.next_cursor)}`);
      expect(page2.status).toBe(200);
      await expectNoPassword([early!, joined!]);
    } finally {
      for (const replica of started.splice(0)) await replica.running.close();
      await late.close();
    }
  });
});
