import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/load.ts';
import { eventually } from '../helpers/eventually.ts';
import { startTestRedis, TEST_STORE_TIMEOUT_MS, type TestRedis } from '../helpers/redis-server.ts';
import { startReplica, startReplicas, type Replica } from '../helpers/replicas.ts';
import { startTestSimulator, type TestSimulator } from '../helpers/simulator.ts';

/**
 * Three replicas of the real server in front of one Datadog simulator and one real Redis
 * behave as one gateway (docs/replicas.md): one cache, one flight per answer, one view of the budget,
 * one quota per key, cursors that work on any replica. Each replica starts as production does,
 * from the environment.
 */

let sim: TestSimulator;
let redis: TestRedis;
const started: Replica[] = [];

beforeAll(async () => {
  sim = await startTestSimulator();
  redis = await startTestRedis({ password: 'shared-test-redis-pass' });
});
afterEach(async () => {
  for (const replica of started.splice(0)) await replica.running.close();
  sim.faults.clear();
  redis.cli('FLUSHALL');
  sim.rateLimit.reset();
  sim.resetRequests();
});
afterAll(async () => {
  sim.assertNoViolations();
  await sim.close();
  await redis.close();
});

/** These tests are about sharing: a slow call on a loaded machine must not make Redis look down. */
const patientStore = (config: Config): Config => ({ ...config, store: config.store && { ...config.store, timeoutMs: TEST_STORE_TIMEOUT_MS } });

async function fleet(count: number, options: Omit<Parameters<typeof startReplica>[0], 'simUrl'> = {}): Promise<Replica[]> {
  const replicas = await startReplicas(count, { simUrl: sim.url, redisUrl: redis.url, adjust: patientStore, ...options });
  started.push(...replicas);
  return replicas;
}

describe('three replicas sharing one Redis', () => {
  it('are ready with "store": "ok" and export tinkr_store_up 1', async () => {
    for (const replica of await fleet(3)) {
      const ready = await replica.get('/readyz');
      expect(ready.status).toBe(200);
      expect(((await ready.json()) as { store: string }).store).toBe('ok');
      expect((await replica.metrics()).find((s) => s.name === 'tinkr_store_up')?.value).toBe(1);
    }
  });

  it('share one cache: an answer made on A is a hit on B and C, for one upstream call', async () => {
    const replicas = await fleet(3);
    const before = sim.callCount('logs');
    const path = '/logs?service=checkout&since=15m&limit=4';
    const made = await replicas[0]!.get(path);
    expect(made.status).toBe(200);
    expect(made.headers.get('x-tinkr-cache')).toBe('miss');
    const body = await made.text();
    for (const replica of replicas.slice(1)) {
      const hit = await replica.get(path);
      expect(hit.status).toBe(200);
      expect(hit.headers.get('x-tinkr-cache')).toBe('hit');
      expect(await hit.text()).toBe(body);
    }
    expect(sim.callCount('logs') - before).toBe(1);
    expect(redis.cli('KEYS', 'tinkr:cache:*').split('\n').filter(Boolean).length).toBeGreaterThan(0);
  });

  it('make one flight of 30 identical requests spread over the replicas: one upstream call', async () => {
    const replicas = await fleet(3);
    const before = sim.callCount('logs');
    // Datadog takes its time: every request arrives while the first one's call is still out.
    sim.faults.add({ kind: 'latency', delayMs: 1_500, endpoint: 'logs' });
    const path = '/logs?service=payments-api&since=15m&limit=7';
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => replicas[i % 3]!.get(path)));
    expect(answers.map((a) => a.status)).toEqual(Array(30).fill(200));
    const bodies = new Set(await Promise.all(answers.map((a) => a.text())));
    expect(bodies.size).toBe(1);
    expect(sim.callCount('logs') - before).toBe(1);
    const outcomes = answers.map((a) => a.headers.get('x-tinkr-cache'));
    expect(outcomes.filter((o) => o === 'miss')).toHaveLength(1);
    expect(outcomes.every((o) => o === 'miss' || o === 'coalesced' || o === 'hit')).toBe(true);
    // Its holder let go of the lease (after the answer was kept: it does not hold the answer up).
    await eventually(() => redis.cli('KEYS', 'tinkr:lease:*') === '', 'the lease is released');
  });

  it('spend one budget: once A has seen it run low, B and C stop before Datadog answers any 429', async () => {
    sim.rateLimit.set('logs', { limit: 6, periodS: 3600 });
    const replicas = await fleet(3);
    // A's first call teaches the fleet the limit and what is left (5).
    expect((await replicas[0]!.get('/logs?service=checkout&since=15m&limit=1')).status).toBe(200);
    // Twelve different questions at once, spread over the three replicas: only five may be sent.
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) => replicas[i % 3]!.get(`/logs?service=checkout&since=15m&limit=${i + 2}`)),
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(7);
    for (const answer of answers.filter((a) => a.status === 429)) {
      expect(((await answer.json()) as { code: string }).code).toBe('UPSTREAM_RATE_LIMITED');
    }
    // Exactly the budget reached Datadog, so none of its answers was a 429.
    expect(sim.callCount('logs')).toBe(6);
    expect(sim.rateLimit.remaining('logs')).toBe(0);
  });

  it("hold each key to one fair share of the budget: a script spread over the replicas stops at its half while a dashboard is active", async () => {
    sim.rateLimit.set('logs', { limit: 20, periodS: 3600 });
    // No reserve and no pacing: only the share holds anything back.
    const replicas = await fleet(3, {
      subjects: ['dashboard', 'script'],
      adjust: (config) => ({ ...patientStore(config), upstream: { ...config.upstream, budget: { ...config.upstream.budget, reserveFraction: 0, pacing: false } } }),
    });
    const as = (subject: string, replica: Replica, path: string) => fetch(replica.running.url + path, { headers: { authorization: `Bearer ${subject}-token` } });
    expect((await as('dashboard', replicas[0]!, '/logs?service=checkout&since=15m&limit=1')).status).toBe(200);
    const statuses: number[] = [];
    for (let n = 1; n <= 14; n++) statuses.push((await as('script', replicas[n % 3]!, `/logs?service=ledger&since=15m&limit=${n}`)).status);
    expect(statuses).toEqual([...Array(10).fill(200), ...Array(4).fill(429)]);
    expect(sim.callCount('logs')).toBe(11);
  });

  it("hold one quota per key: the key's fifth request is its last, whichever replica gets it", async () => {
    const replicas = await fleet(3, { quota: { requests: 5, per: '1h' } });
    const statuses: number[] = [];
    // The key check of each replica's start is behind us: from here nothing may reach Datadog.
    const before = sim.callCount();
    // Refused by validation (400): counted against the quota, nothing sent upstream.
    for (let i = 0; i < 9; i++) statuses.push((await replicas[i % 3]!.get('/logs?since=bogus')).status);
    expect(statuses).toEqual([400, 400, 400, 400, 400, 429, 429, 429, 429]);
    expect(sim.callCount()).toBe(before);
  });

  it('accept each other\'s cursors without a cursor_secret: page 2 of a cursor from A is served by B', async () => {
    const [a, b] = await fleet(2);
    const first = (await (await a.get('/logs?service=checkout&since=2h&limit=5')).json()) as { data: Array<{ id: string }>; meta: { next_cursor: string } };
    expect(first.meta.next_cursor).toEqual(expect.any(String));
    const second = await b.get(`/logs?service=checkout&since=2h&limit=5&cursor=${encodeURIComponent(first.meta.next_cursor)}`);
    expect(second.status).toBe(200);
    const page2 = (await second.json()) as { data: Array<{ id: string }> };
    expect(page2.data).toHaveLength(5);
    expect(page2.data.map((l) => l.id)).not.toContain(first.data[0]!.id);

    // Without the shared store, a replica has a key of its own and refuses it.
    const alone = await startReplica({ simUrl: sim.url });
    started.push(alone);
    const refused = await alone.get(`/logs?service=checkout&since=2h&limit=5&cursor=${encodeURIComponent(first.meta.next_cursor)}`);
    expect(refused.status).toBe(400);
    expect(((await (await alone.get('/readyz')).json()) as { store: string }).store).toBe('none');
  });

  it('keep only non-secret, expiring keys in Redis, all under the prefix', async () => {
    sim.rateLimit.set('logs', { limit: 50, periodS: 3600 });
    const replicas = await fleet(2, { quota: { requests: 100, per: '1m' } });
    await replicas[0]!.get('/logs?service=checkout&since=15m&limit=2');
    await replicas[1]!.get('/logs?service=checkout&since=15m&limit=3');
    const keys = redis.cli('KEYS', '*').split('\n').filter(Boolean);
    expect(keys.some((k) => k.startsWith('tinkr:budget:'))).toBe(true);
    expect(keys.some((k) => k.startsWith('tinkr:quota:'))).toBe(true);
    expect(keys).toContain('tinkr:cursor-key');
    expect(keys.some((k) => k.startsWith('tinkr:cache:c:'))).toBe(true);
    expect(keys.some((k) => k.startsWith('tinkr:cache:s:'))).toBe(true);
    const dump = keys.map((k) => `${k} ${redis.cli('TYPE', k)} ${redis.cli('PTTL', k)}`).join('\n');
    for (const key of keys) {
      expect(key.startsWith('tinkr:'), key).toBe(true);
      expect(Number(redis.cli('PTTL', key)), key).toBeGreaterThan(0);
      const value = redis.cli('TYPE', key) === 'string' ? redis.cli('GET', key) : redis.cli('ZRANGE', key, '0', '-1');
      for (const secret of [sim.keys.apiKey, sim.keys.appKey, 'replica-test-token-5c1d']) expect(`${key} ${value}`, dump).not.toContain(secret);
    }
  });
});
