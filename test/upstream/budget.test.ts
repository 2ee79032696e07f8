import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../src/clock.ts';
import { storeConfig, storeSchema } from '../../src/config/store.ts';
import { createRedisLedger } from '../../src/redis/budget-ledger.ts';
import { createRedisConnection, type RedisConnection } from '../../src/redis/connection.ts';
import { noTelemetry, type BudgetGateOutcome, type Telemetry } from '../../src/telemetry/telemetry.ts';
import type { Family, RateLimitInfo } from '../../src/upstream-call.ts';
import { BudgetDenied, createBudgetGate, type BudgetRecord, type Entitlement } from '../../src/upstream/budget.ts';
import { DEFAULT_UPSTREAM_POLICY, type UpstreamPolicy } from '../../src/upstream/pipeline.ts';
import { createMemoryStore } from '../../src/upstream/store.ts';
import { ManualClock } from '../helpers/manual-clock.ts';
import { startTestRedis, TEST_STORE_TIMEOUT_MS, type TestRedis } from '../helpers/redis-server.ts';
import { startStack, type Stack } from '../helpers/stack.ts';
import { rejected } from '../helpers/thrown.ts';

const NOW = Date.parse('2026-11-25T04:00:00.000Z');
const eventually = (check: () => void) => vi.waitFor(check, { timeout: 15_000, interval: 5 });

const NOTHING_CACHED: Entitlement = { hasFallback: false, noCache: false };
const CACHED: Entitlement = { hasFallback: true, noCache: false };
const info = (remaining: number, resetS: number, limit = 10, name = 'logs_list'): RateLimitInfo => ({ name, limit, periodS: 3600, remaining, resetS });

/**
 * The gate's unit tests run against both ledgers, to show that sharing through Redis changes
 * nothing in how one gate judges. Each gate gets its own origin, so Redis keys never meet.
 */
const LEDGERS = ['in-process', 'Redis'] as const;
let redis: TestRedis;
let connection: RedisConnection;
let gates = 0;
beforeAll(async () => {
  redis = await startTestRedis();
  connection = createRedisConnection(storeConfig(redis.url, storeSchema.parse({ timeout_ms: TEST_STORE_TIMEOUT_MS }))!, { log: pino({ level: 'silent' }), telemetry: noTelemetry, clock: systemClock });
  await vi.waitFor(() => expect(connection.health.up).toBe(true), { timeout: 15_000, interval: 10 });
});
afterAll(async () => {
  await connection?.close();
  await redis?.close();
});
function ledgerFor(kind: (typeof LEDGERS)[number], clock: ManualClock) {
  const where = { origin: `o${++gates}` };
  if (kind === 'Redis') return { ...where, ledger: createRedisLedger(connection) };
  return { ...where, store: createMemoryStore<BudgetRecord>({ maxBytes: 1024 * 1024, maxEntries: 100, clock }) };
}

describe.each(LEDGERS)('budget gate (%s ledger)', (kind) => {
  function gateAt(clock: ManualClock, options: Partial<UpstreamPolicy['budget']> = {}, random = () => 0) {
    const outcomes: Array<[Family, BudgetGateOutcome]> = [];
    const telemetry: Telemetry = { ...noTelemetry, budgetGate: (family, outcome) => outcomes.push([family, outcome]) };
    const gate = createBudgetGate({
      options: { ...DEFAULT_UPSTREAM_POLICY.budget, ...options },
      ...ledgerFor(kind, clock),
      clock,
      telemetry,
      random,
    });
    return { gate, outcomes };
  }
  const wait = (deadline = NOW + 30_000, signal = new AbortController().signal) => ({ signal, deadline });

  const refusal = (promise: Promise<unknown>) => rejected(promise, BudgetDenied);

  it('lets calls through while nothing is known', async () => {
    const { gate } = gateAt(new ManualClock(NOW));
    const ticket = await gate.acquire('logs', 'k', wait(), NOTHING_CACHED);
    ticket.release();
    expect(await gate.state('logs', 'k')).toBeUndefined();
  });

  it('sends nothing once Remaining is 0, until the reset plus its jitter', async () => {
    const clock = new ManualClock(NOW);
    const { gate, outcomes } = gateAt(clock, { maxWaitMs: 0, resetJitterMs: 2_000 }, () => 0.25);
    await gate.observe('logs', 'k', info(0, 60), 200);
    expect(await gate.state('logs', 'k')).toMatchObject({ name: 'logs_list', remaining: 0, resetAtMs: NOW + 60_000, reopenAtMs: NOW + 60_500 });
    const denied = await refusal(gate.acquire('logs', 'k', wait(), NOTHING_CACHED));
    expect(denied).toMatchObject({ reason: 'exhausted', retryAfterS: 61 });
    clock.set(NOW + 60_499);
    await refusal(gate.acquire('logs', 'k', wait(NOW + 90_000), NOTHING_CACHED));
    clock.set(NOW + 60_500);
    (await gate.acquire('logs', 'k', wait(NOW + 90_000), NOTHING_CACHED)).release();
    expect(outcomes).toEqual([
      ['logs', 'exhausted'],
      ['logs', 'exhausted'],
    ]);
  });

  it('waits for a reset that comes within max_wait and before the deadline, else refuses at once', async () => {
    const clock = new ManualClock(NOW);
    const { gate, outcomes } = gateAt(clock, { maxWaitMs: 3_000, resetJitterMs: 0 });
    await gate.observe('logs', 'k', info(0, 3), 200);
    const waiting = gate.acquire('logs', 'k', wait(NOW + 10_000), NOTHING_CACHED);
    await eventually(() => expect(gate.waiting).toBe(1));
    clock.advance(3_000);
    (await waiting).release();
    expect(gate.waiting).toBe(0);
    expect(outcomes).toEqual([['logs', 'waited']]);

    await gate.observe('logs', 'k', info(0, 3), 200);
    // The reset would come 1 s before the deadline: no time left for the call itself.
    const tooLate = await refusal(gate.acquire('logs', 'k', wait(clock.now() + 3_999), NOTHING_CACHED));
    expect(tooLate.retryAfterS).toBe(3);
    expect(gate.waiting).toBe(0);
  });

  it('stops waiting when the caller goes away', async () => {
    const clock = new ManualClock(NOW);
    const { gate } = gateAt(clock, { resetJitterMs: 0 });
    await gate.observe('logs', 'k', info(0, 2), 200);
    const controller = new AbortController();
    const waiting = gate.acquire('logs', 'k', wait(NOW + 10_000, controller.signal), NOTHING_CACHED);
    controller.abort(new Error('gone'));
    await expect(waiting).rejects.toThrow('gone');
    expect(gate.waiting).toBe(0);
  });

  it('keeps the reserve for callers with nothing cached or asking for no-cache', async () => {
    const clock = new ManualClock(NOW);
    const { gate, outcomes } = gateAt(clock, { reserveFraction: 0.3 });
    await gate.observe('logs', 'k', info(4, 600), 200);
    (await gate.acquire('logs', 'k', wait(), CACHED)).release();
    await gate.observe('logs', 'k', info(3, 600), 200);
    expect(await refusal(gate.acquire('logs', 'k', wait(), CACHED))).toMatchObject({ reason: 'reserve' });
    (await gate.acquire('logs', 'k', wait(), NOTHING_CACHED)).release();
    (await gate.acquire('logs', 'k', wait(), { hasFallback: true, noCache: true })).release();
    expect(outcomes).toEqual([['logs', 'reserve']]);
  });

  it('counts its own calls in flight against what is left', async () => {
    const clock = new ManualClock(NOW);
    const { gate } = gateAt(clock, { maxWaitMs: 0 });
    await gate.observe('logs', 'k', info(2, 600), 200);
    const a = await gate.acquire('logs', 'k', wait(), NOTHING_CACHED);
    const b = await gate.acquire('logs', 'k', wait(), NOTHING_CACHED);
    expect(await refusal(gate.acquire('logs', 'k', wait(), NOTHING_CACHED))).toMatchObject({ reason: 'exhausted', retryAfterS: 1 });
    a.release();
    a.release();
    (await gate.acquire('logs', 'k', wait(), NOTHING_CACHED)).release();
    b.release();
  });

  it('takes the lowest Remaining of a period whatever order answers arrive in, and ignores a late answer from an earlier period', async () => {
    const clock = new ManualClock(NOW);
    const { gate } = gateAt(clock);
    await gate.observe('logs', 'k', info(5, 600), 200);
    await gate.observe('logs', 'k', info(7, 600), 200);
    expect((await gate.state('logs', 'k'))?.remaining).toBe(5);
    clock.set(NOW + 600_000);
    await gate.observe('logs', 'k', info(9, 3_600), 200);
    await gate.observe('logs', 'k', info(0, 1), 200);
    expect(await gate.state('logs', 'k')).toMatchObject({ remaining: 9, resetAtMs: NOW + 600_000 + 3_600_000 });
  });

  it('closes on a 429 without headers for Retry-After', async () => {
    const clock = new ManualClock(NOW);
    const { gate } = gateAt(clock, { maxWaitMs: 0, resetJitterMs: 0 });
    await gate.exhausted('spans', 'k', 30);
    expect(await refusal(gate.acquire('spans', 'k', wait(), NOTHING_CACHED))).toMatchObject({ retryAfterS: 30 });
    (await gate.acquire('logs', 'k', wait(), NOTHING_CACHED)).release();
    clock.advance(30_000);
    (await gate.acquire('spans', 'k', wait(NOW + 60_000), NOTHING_CACHED)).release();
  });

  it('learns which limit a family spends from X-RateLimit-Name; families sharing a limit share its budget', async () => {
    const clock = new ManualClock(NOW);
    const { gate } = gateAt(clock, { maxWaitMs: 0 });
    await gate.observe('logs', 'k', info(5, 600, 10, 'search'), 200);
    await gate.observe('spans', 'k', info(0, 600, 10, 'search'), 200);
    expect(await refusal(gate.acquire('logs', 'k', wait(), NOTHING_CACHED))).toMatchObject({ reason: 'exhausted' });
    // Another key, or another base URL, is another budget.
    (await gate.acquire('logs', 'other-key', wait(), NOTHING_CACHED)).release();
  });

  it("keeps a search's limit and its aggregate's apart when Datadog names them apart", async () => {
    const clock = new ManualClock(NOW);
    const { gate } = gateAt(clock, { maxWaitMs: 0 });
    await gate.observe('logs', 'k', info(7, 600, 10, 'logs_list'), 200);
    await gate.observe('logs_aggregate', 'k', info(0, 600, 10, 'logs_aggregate'), 200);
    // An aggregate answer after a search answer does not rename the search's limit, nor the reverse.
    await gate.observe('logs', 'k', info(6, 600, 10, 'logs_list'), 200);
    expect(await gate.state('logs', 'k')).toMatchObject({ name: 'logs_list', remaining: 6 });
    expect(await gate.state('logs_aggregate', 'k')).toMatchObject({ name: 'logs_aggregate', remaining: 0 });
    expect(await refusal(gate.acquire('logs_aggregate', 'k', wait(), NOTHING_CACHED))).toMatchObject({ reason: 'exhausted', family: 'logs_aggregate' });
    (await gate.acquire('logs', 'k', wait(), NOTHING_CACHED)).release();
    (await gate.acquire('spans_aggregate', 'k', wait(), NOTHING_CACHED)).release();
  });
});

describe.each(LEDGERS)('pacing (%s ledger)', (kind) => {
  const info100 = (remaining: number, resetS: number, periodS = 3600): RateLimitInfo => ({ name: 'logs_list', limit: 100, periodS, remaining, resetS });
  const FRESH: Entitlement = { hasFallback: true, noCache: false, fallbackAgeMs: 10_000 };

  function paced(clock: ManualClock, options: Partial<UpstreamPolicy['budget']> = {}) {
    const outcomes: BudgetGateOutcome[] = [];
    const gate = createBudgetGate({
      // Reserve 10 and burst 10 of a limit of 100: the usable 90 should last the hour.
      options: { ...DEFAULT_UPSTREAM_POLICY.budget, reserveFraction: 0.1, burstFraction: 0.1, ...options },
      ...ledgerFor(kind, clock),
      clock,
      telemetry: { ...noTelemetry, budgetGate: (_family, outcome) => outcomes.push(outcome) },
      random: () => 0,
    });
    return { gate, outcomes };
  }
  const wait = () => ({ signal: new AbortController().signal, deadline: Number.MAX_SAFE_INTEGER });
  async function verdict(gate: ReturnType<typeof paced>['gate'], entitlement: Entitlement): Promise<string> {
    try {
      (await gate.acquire('logs', 'k', wait(), entitlement)).release();
      return 'send';
    } catch (error) {
      if (error instanceof BudgetDenied) return error.reason;
      throw error;
    }
  }

  it('holds back callers with a recent cached answer once spending runs ahead of the period, and no one else', async () => {
    const clock = new ManualClock(NOW);
    const { gate, outcomes } = paced(clock);
    // The whole hour to go: on pace while left - 10 >= 90 - 10, i.e. 90 or more left.
    await gate.observe('logs', 'k', info100(90, 3600), 200);
    expect(await verdict(gate, FRESH)).toBe('send');
    await gate.observe('logs', 'k', info100(89, 3600), 200);
    expect(await verdict(gate, FRESH)).toBe('pacing');
    expect(await verdict(gate, NOTHING_CACHED)).toBe('send');
    expect(await verdict(gate, { ...FRESH, noCache: true })).toBe('send');
    // An answer five minutes old is refreshed anyway, so no panel starves.
    expect(await verdict(gate, { ...FRESH, fallbackAgeMs: 5 * 60_000 })).toBe('send');
    expect(outcomes).toEqual(['paced']);

    // Half the hour later the same 89 left is well on pace (89 - 10 >= 45 - 10).
    clock.advance(1_800_000);
    await gate.observe('logs', 'k', info100(89, 1800), 200);
    expect(await verdict(gate, FRESH)).toBe('send');
    await gate.observe('logs', 'k', info100(44, 1800), 200);
    expect(await verdict(gate, FRESH)).toBe('pacing');
  });

  it('counts calls in flight, and leaves the reserve check first', async () => {
    const clock = new ManualClock(NOW);
    const { gate } = paced(clock);
    await gate.observe('logs', 'k', info100(90, 3600), 200);
    const inFlight = await gate.acquire('logs', 'k', wait(), NOTHING_CACHED);
    expect(await verdict(gate, FRESH)).toBe('pacing');
    inFlight.release();
    await gate.observe('logs', 'k', info100(10, 3600), 200);
    expect(await verdict(gate, FRESH)).toBe('reserve');
  });

  it('does not pace when turned off, when the period is unknown, or in a new period', async () => {
    const clock = new ManualClock(NOW);
    const off = paced(clock, { pacing: false });
    await off.gate.observe('logs', 'k', info100(50, 3600), 200);
    expect(await verdict(off.gate, FRESH)).toBe('send');

    const unknown = paced(clock);
    await unknown.gate.observe('logs', 'k', info100(50, 3600, 0), 200);
    expect(await verdict(unknown.gate, FRESH)).toBe('send');

    const next = paced(clock);
    await next.gate.observe('logs', 'k', info100(50, 3600), 200);
    expect(await verdict(next.gate, FRESH)).toBe('pacing');
    clock.advance(3_600_000);
    expect(await verdict(next.gate, FRESH)).toBe('send');
  });
});

describe('the budget through the server', () => {
  const clock = new ManualClock(NOW);
  let stack: Stack;
  afterEach(async () => {
    stack.sim.assertNoViolations();
    await stack.close();
  });

  async function start(budget: Partial<UpstreamPolicy['budget']> = {}, random?: () => number) {
    clock.set(NOW);
    stack = await startStack({
      clock,
      policy: { ...DEFAULT_UPSTREAM_POLICY, budget: { ...DEFAULT_UPSTREAM_POLICY.budget, ...budget } },
      ...(random ? { random } : {}),
    });
  }

  async function get(path: string, headers: Record<string, string> = {}) {
    const res = await stack.app.get(path, { headers });
    const body = (await res.json()) as any;
    expect(res.status).toBeLessThan(500);
    return { status: res.status, cache: res.headers.get('x-tinkr-cache'), age: res.headers.get('age'), retryAfter: res.headers.get('retry-after'), body };
  }

  it('closes the gate on Remaining: 0: stale when cached, 429 with Retry-After otherwise, and reopens at the reset', async () => {
    await start({ reserveFraction: 0 });
    stack.sim.rateLimit.set('logs', { limit: 3, periodS: 60 });
    for (const service of ['checkout', 'ledger', 'payments-api']) {
      expect((await get(`/logs?service=${service}&since=15m&limit=5`)).cache).toBe('miss');
    }
    expect(stack.sim.rateLimit.remaining('logs')).toBe(0);

    // One step on, the previous bucket is served at once while its refresh is refused in the
    // background (stale-while-revalidate: no warning, nothing asked of Datadog).
    clock.advance(10_000);
    const revalidating = await get('/logs?service=checkout&since=15m&limit=5');
    expect(revalidating).toMatchObject({ status: 200, cache: 'stale', age: '10' });
    expect(revalidating.body.meta.warnings).toEqual([]);
    await eventually(() => expect(stack.engine.inspect().refreshes).toBe(0));
    expect(stack.sim.callCount('logs')).toBe(3);

    // Past that window the request asks the gate itself, and the budget's fallback says why.
    clock.advance(10_000);
    const stale = await get('/logs?service=checkout&since=15m&limit=5');
    expect(stale).toMatchObject({ status: 200, cache: 'stale', age: '20' });
    expect(stale.body.meta.warnings).toEqual([{ code: 'budget_exhausted', message: expect.stringMatching(/budget is spent.*20 s old/) }]);
    expect(stale.body.data).toHaveLength(5);
    // The answer is the previous bucket's, and says so.
    expect(stale.body.meta).toMatchObject({ from: '2026-11-25T03:45:00.000Z', to: '2026-11-25T04:00:00.000Z' });

    const refused = await get('/logs?service=checkout&since=1h&limit=5');
    expect(refused).toMatchObject({ status: 429, retryAfter: '40' });
    expect(refused.body).toMatchObject({ code: 'UPSTREAM_RATE_LIMITED', detail: 'Datadog logs budget exhausted; retry in 40 s' });
    expect(stack.sim.callCount('logs')).toBe(3);

    // Other families have budgets of their own.
    expect((await get('/traces?service=checkout&since=15m&limit=1')).status).toBe(200);

    clock.set(NOW + 60_000);
    expect((await get('/logs?service=checkout&since=1h&limit=5')).cache).toBe('miss');
    expect(stack.sim.callCount('logs')).toBe(4);
  });

  it("honours a Datadog 429's X-RateLimit-Reset: no call until the reset, stale when cached, 429 otherwise", async () => {
    await start();
    expect((await get('/traces?service=ledger&since=15m&limit=3')).cache).toBe('miss');
    clock.advance(10_000);
    stack.sim.faults.add({ kind: 'status', status: 429, resetS: 30, endpoint: 'spans' });
    // Served at once; the background refresh meets the 429, which closes the gate.
    const revalidating = await get('/traces?service=ledger&since=15m&limit=3');
    expect(revalidating).toMatchObject({ status: 200, cache: 'stale', age: '10' });
    await eventually(() => expect(stack.engine.inspect().refreshes).toBe(0));
    expect(stack.sim.callCount('spans')).toBe(2);

    clock.advance(10_000);
    const stale = await get('/traces?service=ledger&since=15m&limit=3');
    expect(stale).toMatchObject({ status: 200, cache: 'stale', age: '20' });
    expect(stale.body.meta.warnings[0].code).toBe('budget_exhausted');
    expect(stack.sim.callCount('spans')).toBe(2);

    const refused = await get('/traces?service=checkout&since=15m&limit=3');
    expect(refused).toMatchObject({ status: 429, retryAfter: '20' });
    expect(refused.body.code).toBe('UPSTREAM_RATE_LIMITED');
    expect(stack.sim.callCount('spans')).toBe(2);

    // 3.001 s before the reset is beyond max_wait_ms (3 s): refused at once.
    clock.advance(16_999);
    expect(await get('/traces?service=checkout&since=15m&limit=3')).toMatchObject({ status: 429, retryAfter: '4' });
    clock.advance(3_001);
    expect((await get('/traces?service=checkout&since=15m&limit=3')).cache).toBe('miss');
    expect(stack.sim.callCount('spans')).toBe(3);
  });

  it('serves a metric panel stale from its previous bucket, with that bucket\'s range', async () => {
    await start({ reserveFraction: 0 });
    stack.sim.rateLimit.set('metrics', { limit: 1, periodS: 3_600 });
    const panel = '/metrics?metric=trace.web.request.hits&service=checkout&since=1h';
    const first = await get(panel);
    expect(first.body.meta).toMatchObject({ from: '2026-11-25T03:00:00.000Z', to: '2026-11-25T04:00:00.000Z', bucket_s: 30 });
    // Within a step past freshness: the previous bucket at once, its refresh refused quietly.
    clock.advance(45_000);
    const revalidating = await get(panel);
    expect(revalidating).toMatchObject({ status: 200, cache: 'stale', age: '45' });
    expect(revalidating.body.meta.warnings).toEqual([]);
    await eventually(() => expect(stack.engine.inspect().refreshes).toBe(0));

    clock.advance(15_000);
    const stale = await get(panel);
    expect(stale).toMatchObject({ status: 200, cache: 'stale', age: '60' });
    expect(stale.body.series).toEqual(first.body.series);
    expect(stale.body.meta).toMatchObject({ from: '2026-11-25T03:00:00.000Z', to: '2026-11-25T04:00:00.000Z', bucket_s: 30 });
    expect(stale.body.meta.warnings[0].code).toBe('budget_exhausted');
    expect(stack.sim.callCount('metrics')).toBe(1);
  });

  it('waits for a reset within max_wait_ms, then answers', async () => {
    await start();
    stack.sim.faults.add({ kind: 'status', status: 429, resetS: 2, endpoint: 'logs' });
    const pending = get('/logs?service=checkout&since=15m&limit=3');
    await eventually(() => expect(stack.engine.inspect().budgetWaits).toBe(1));
    expect(stack.sim.callCount('logs')).toBe(1);
    clock.advance(2_000);
    const answer = await pending;
    expect(answer).toMatchObject({ status: 200, cache: 'miss' });
    expect(stack.sim.callCount('logs')).toBe(2);
  });

  it('never waits past the request deadline', async () => {
    // startApp's deadline is 10 s; a wait must leave a second for the call itself.
    await start({ maxWaitMs: 60_000 });
    stack.sim.faults.add({ kind: 'status', status: 429, resetS: 10, endpoint: 'logs' });
    const refused = await get('/logs?service=checkout&since=15m&limit=3');
    expect(refused).toMatchObject({ status: 429, retryAfter: '10' });
    expect(stack.engine.inspect().budgetWaits).toBe(0);
    expect(stack.sim.callCount('logs')).toBe(1);
  });

  it('adds jitter to the reset, so replicas do not all call at once', async () => {
    // random() = 0.5 with the default 2 s jitter: this replica reopens 1 s after the reset.
    await start({}, () => 0.5);
    stack.sim.rateLimit.set('logs', { limit: 1, periodS: 60 });
    expect((await get('/logs?service=checkout&since=15m&limit=3')).cache).toBe('miss');
    clock.set(NOW + 60_000);
    const pending = get('/logs?service=ledger&since=15m&limit=3');
    await eventually(() => expect(stack.engine.inspect().budgetWaits).toBe(1));
    clock.advance(999);
    expect(stack.engine.inspect().budgetWaits).toBe(1);
    expect(stack.sim.callCount('logs')).toBe(1);
    clock.advance(1);
    expect(await pending).toMatchObject({ status: 200, cache: 'miss' });
    expect(stack.sim.callCount('logs')).toBe(2);
  });

  it('keeps the reserve for requests nothing cached can answer', async () => {
    await start({ reserveFraction: 0.3 });
    stack.sim.rateLimit.set('logs', { limit: 10, periodS: 3_600 });
    const panel = (n: number) => `/logs?service=checkout&since=15m&limit=${n}`;
    for (let n = 1; n <= 7; n++) expect((await get(panel(n))).cache).toBe('miss');
    expect(stack.sim.rateLimit.remaining('logs')).toBe(3);
    // A step on, the refresh in the background is kept off the reserve too.
    clock.advance(10_000);
    expect((await get(panel(1))).cache).toBe('stale');
    await eventually(() => expect(stack.engine.inspect().refreshes).toBe(0));
    expect(stack.sim.callCount('logs')).toBe(7);
    clock.advance(10_000);

    const reserved = await get(panel(1));
    expect(reserved).toMatchObject({ status: 200, cache: 'stale', age: '20' });
    expect(reserved.body.meta.warnings).toEqual([{ code: 'budget_reserve', message: expect.stringMatching(/reserve/) }]);
    expect(stack.sim.callCount('logs')).toBe(7);

    expect((await get(panel(8))).cache).toBe('miss');
    expect((await get(panel(2), { 'cache-control': 'no-cache' })).cache).toBe('bypass');
    expect((await get(panel(3))).cache).toBe('stale');
    expect((await get(panel(9))).cache).toBe('miss');
    expect(stack.sim.callCount('logs')).toBe(10);

    expect(await get(panel(11))).toMatchObject({ status: 429 });
    const spent = await get(panel(4));
    expect(spent.cache).toBe('stale');
    expect(spent.body.meta.warnings[0].code).toBe('budget_exhausted');
    expect(stack.sim.callCount('logs')).toBe(10);
  });

  it('spreads the budget over the period: cached panels are refreshed at the pace the budget allows', async () => {
    await start({ reserveFraction: 0.1, burstFraction: 0.1 });
    // 20 calls an hour: reserve 2, burst 2; at the start of the hour 16 of the usable 18 are ahead of pace.
    stack.sim.rateLimit.set('logs', { limit: 20, periodS: 3_600 });
    const panel = (n: number) => `/logs?service=checkout&since=15m&limit=${n}`;
    for (let n = 1; n <= 3; n++) expect((await get(panel(n))).cache).toBe('miss');
    expect(stack.sim.rateLimit.remaining('logs')).toBe(17);

    // A step on, the background refresh is held back by the pace, quietly.
    clock.advance(10_000);
    expect(await get(panel(1))).toMatchObject({ status: 200, cache: 'stale', age: '10' });
    await eventually(() => expect(stack.engine.inspect().refreshes).toBe(0));
    expect(stack.sim.callCount('logs')).toBe(3);

    clock.advance(10_000);
    const held = await get(panel(1));
    expect(held).toMatchObject({ status: 200, cache: 'stale', age: '20' });
    expect(held.body.meta.warnings).toEqual([{ code: 'budget_pacing', message: expect.stringMatching(/spread to last until its reset.*20 s old/) }]);
    // A new panel has nothing cached and is asked at once; no-cache too.
    expect((await get(panel(4))).cache).toBe('miss');
    expect((await get(panel(2), { 'cache-control': 'no-cache' })).cache).toBe('bypass');
    expect(stack.sim.callCount('logs')).toBe(5);

    // A quarter of the hour later there is budget to spare for the pace again.
    clock.advance(15 * 60_000);
    expect((await get(panel(1))).cache).toBe('miss');
    expect(stack.sim.callCount('logs')).toBe(6);
  });

  it('lets a caller with nothing cached spend the reserve even when it joined a call kept off it', async () => {
    await start({ reserveFraction: 0.5 });
    stack.sim.rateLimit.set('logs', { limit: 4, periodS: 3_600 });
    expect((await get('/logs?service=checkout&since=15m&limit=1')).cache).toBe('miss');
    expect((await get('/logs?service=checkout&since=15m&limit=2')).cache).toBe('miss');
    // 2 left = the reserve. In the next bucket, the cached caller is kept off the reserve;
    // a no-cache caller of the same request is not.
    clock.advance(10_000);
    expect((await get('/logs?service=checkout&since=15m&limit=1')).cache).toBe('stale');
    expect((await get('/logs?service=checkout&since=15m&limit=1', { 'cache-control': 'no-cache' })).cache).toBe('bypass');
    expect(stack.sim.callCount('logs')).toBe(3);
  });
});
