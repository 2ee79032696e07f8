import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/load.ts';
import { envOnlyStart, scratchDirs, startCli, type RunningCli, type Scratch } from '../helpers/cli.ts';
import { eventually } from '../helpers/eventually.ts';
import { valueOf } from '../helpers/prometheus.ts';
import { untilReady } from '../helpers/ready.ts';
import { startTestRedis, TEST_STORE_TIMEOUT_MS, type TestRedis } from '../helpers/redis-server.ts';
import { startReplicas, type Replica } from '../helpers/replicas.ts';
import { startTestSimulator, type TestSimulator } from '../helpers/simulator.ts';

/**
 * A replica dies while it holds the fleet's lease on an answer (docs/replicas.md): it was fetching
 * (Datadog slow to answer), the others were waiting for it. Its lease is no longer renewed and
 * lapses; one of the waiting replicas takes over and fetches, the other reads its answer, and
 * every caller still gets a 200 within its deadline. The holder is `tinkr-server` in a child
 * process, killed with SIGKILL (no release, no announcement).
 */

const PASSWORD = 'takeover-redis-pa55-41b7';
const HOLDER_TOKEN = 'takeover-holder-token';
/**
 * The waiters' own request deadline (production's default): far past the lease's three-second
 * lifetime, so the takeover always happens inside it, however loaded the machine.
 */
const REQUEST_TIMEOUT_MS = 30_000;
/** A caller still waiting past this has outlived its deadline. */
const CLIENT_BOUND_MS = REQUEST_TIMEOUT_MS + 10_000;

let sim: TestSimulator;
let redis: TestRedis;
let scratch: Scratch;
const replicas: Replica[] = [];
let holder: RunningCli | undefined;

beforeAll(async () => {
  sim = await startTestSimulator();
  redis = await startTestRedis({ password: PASSWORD });
  scratch = scratchDirs('tinkr-takeover-');
  // The child's store timeout, as the in-process replicas': a loaded machine must not make it produce alone.
  scratch.write('home/.tinkr/config.toml', `[store]\ntimeout_ms = ${TEST_STORE_TIMEOUT_MS}\n`);
});
afterEach(async () => {
  await holder?.kill();
  holder = undefined;
  for (const replica of replicas.splice(0)) await replica.running.close();
  sim.faults.clear();
});
afterAll(async () => {
  sim.assertNoViolations();
  await sim.close();
  await redis.close();
  scratch.cleanup();
});

const adjust = (config: Config): Config => ({
  ...config,
  server: { ...config.server, requestTimeoutMs: REQUEST_TIMEOUT_MS },
  store: config.store && { ...config.store, timeoutMs: TEST_STORE_TIMEOUT_MS },
});

const flightsOf = async (replica: Replica, outcome: string) => valueOf(await replica.metrics(), 'tinkr_fleet_flights_total', { family: 'logs', outcome });

/** Replicas subscribed to the lease announcements: each subscribes when it first waits for a holder. */
const subscribers = () => Number(redis.cli('PUBSUB', 'NUMSUB', 'tinkr:leases').split('\n')[1] ?? 0);

describe('a replica killed while it holds the lease', () => {
  it('lets its lease lapse: another replica fetches, and every waiter gets the answer', async () => {
    replicas.push(...(await startReplicas(2, { simUrl: sim.url, redisUrl: redis.url, adjust })));
    const [a, b] = replicas as [Replica, Replica];
    holder = await startCli([], { scratch, env: { ...envOnlyStart(sim.url, { token: HOLDER_TOKEN, subject: 'holder', quota: 'off' }), TINKR_REDIS_URL: redis.url } });
    await untilReady(holder.url, { timeoutMs: 60_000 });

    const path = '/logs?service=checkout&since=15m&limit=6';
    const before = sim.callCount('logs');
    // Datadog holds the holder's call (until its connection drops); the next call is answered at once.
    sim.faults.add({ kind: 'latency', delayMs: 300_000, endpoint: 'logs' });
    const held = fetch(holder.url + path, { headers: { authorization: `Bearer ${HOLDER_TOKEN}` } }).then(
      (res) => res.status,
      () => 'no answer: killed' as const,
    );
    await eventually(() => sim.callCount('logs') - before === 1, 'the holder has called Datadog', 30_000);
    expect(redis.cli('KEYS', 'tinkr:lease:*').split('\n').filter(Boolean)).toHaveLength(1);

    const waiting = [a, b].map((replica) => replica.get(path, { signal: AbortSignal.timeout(CLIENT_BOUND_MS) }));
    await eventually(() => subscribers() === 2, 'both replicas wait for the holder', 30_000);
    // Nothing else reached Datadog: they wait, they do not fetch.
    expect(sim.callCount('logs') - before).toBe(1);

    const killed = await holder.kill();
    expect(await held).toBe('no answer: killed');
    // The holder logged its start with the store configured, and never the password.
    expect(killed.stdout).toContain('"store"');
    expect(killed.stdout + killed.stderr).not.toContain(PASSWORD);
    const answers = await Promise.all(waiting);
    expect(answers.map((r) => r.status)).toEqual([200, 200]);
    const [bodyA, bodyB] = await Promise.all(answers.map((r) => r.text()));
    expect(bodyA).toBe(bodyB);
    expect((JSON.parse(bodyA!) as { data: unknown[] }).data).toHaveLength(6);
    // The dead holder's call and one more: one replica took over, the other read its answer.
    expect(sim.callCount('logs') - before).toBe(2);
    expect((await flightsOf(a, 'took_over')) + (await flightsOf(b, 'took_over'))).toBe(1);
    expect((await flightsOf(a, 'read')) + (await flightsOf(b, 'read'))).toBe(1);
    expect(answers.map((r) => r.headers.get('x-tinkr-cache')).sort()).toEqual(['coalesced', 'miss']);
    for (const replica of [a, b]) expect(replica.output()).not.toContain(PASSWORD);
  });
});
