import { afterEach, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/auth/keyring.ts';
import type { ApiKeyConfig } from '../../src/config/schema.ts';
import { createPrometheusTelemetry, type PrometheusTelemetry } from '../../src/telemetry/prometheus.ts';
import { noTelemetry, type Telemetry } from '../../src/telemetry/telemetry.ts';
import { BudgetDenied, type LimitState } from '../../src/upstream/budget.ts';
import {
  ACTIVE_KEY_WINDOW_MS,
  ACTIVITY_NOTE_INTERVAL_MS,
  createFairShare,
  createMemoryShareLedger,
  currentPeriod,
  ShareDenied,
  type ShareLedger,
} from '../../src/upstream/fair-share.ts';
import { DEFAULT_UPSTREAM_POLICY } from '../../src/upstream/pipeline.ts';
import type { UpstreamCaller } from '../../src/upstream/types.ts';
import { eventually } from '../helpers/eventually.ts';
import { ManualClock } from '../helpers/manual-clock.ts';
import { parsePrometheus, valueOf } from '../helpers/prometheus.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

const HOUR = 3_600_000;
/** Ten minutes into an hour: Datadog's hourly periods are calendar aligned, so 50 minutes remain. */
const NOW = Date.parse('2026-11-25T04:10:00.000Z');
const RESET_S = 50 * 60;

const caller = (keyId: string, upstreamShare = 0.5): UpstreamCaller => ({ keyId, subject: keyId, upstreamShare });
const limitOf = (limit: number, periodMs?: number): LimitState => ({
  name: 'logs_list',
  limit,
  periodMs: periodMs ?? HOUR,
  remaining: limit,
  resetAtMs: NOW + HOUR,
  reopenAtMs: NOW + HOUR,
});

describe('the in-memory share ledger', () => {
  it('adds up each (limit, period, key) apart, gives calls back, and forgets a slot after its time', async () => {
    const clock = new ManualClock(NOW);
    const ledger = createMemoryShareLedger({ clock });
    const slot = { limit: 'logs', period: 1, key: 'a' };
    expect(await ledger.addSpend(slot, 1, NOW + 1_000)).toBe(1);
    expect(await ledger.addSpend(slot, 1, NOW + 1_000)).toBe(2);
    expect(await ledger.addSpend({ ...slot, key: 'b' }, 1, NOW + 1_000)).toBe(1);
    expect(await ledger.addSpend({ ...slot, period: 2 }, 1, NOW + 1_000)).toBe(1);
    expect(await ledger.addSpend({ ...slot, limit: 'spans' }, 1, NOW + 1_000)).toBe(1);
    expect(await ledger.addSpend(slot, -1, NOW + 1_000)).toBe(1);
    clock.advance(1_000);
    expect(await ledger.addSpend(slot, 1, NOW + 5_000)).toBe(1);
  });

  it('is bounded: past its size the least recently used slot starts over', async () => {
    const ledger = createMemoryShareLedger({ clock: new ManualClock(NOW), maxSpends: 2 });
    const slot = (key: string) => ({ limit: 'logs', period: 1, key });
    await ledger.addSpend(slot('a'), 5, NOW + HOUR);
    await ledger.addSpend(slot('b'), 5, NOW + HOUR);
    await ledger.addSpend(slot('c'), 5, NOW + HOUR);
    expect(await ledger.addSpend(slot('c'), 0, NOW + HOUR)).toBe(5);
    expect(await ledger.addSpend(slot('a'), 0, NOW + HOUR)).toBe(0);
  });

  it('tells whether a key other than the asking one was active since a time', async () => {
    const ledger = createMemoryShareLedger({ clock: new ManualClock(NOW) });
    expect(await ledger.othersActiveSince('a', 0)).toBe(false);
    await ledger.noteActive('a', NOW);
    expect(await ledger.othersActiveSince('a', 0)).toBe(false);
    expect(await ledger.othersActiveSince('b', NOW)).toBe(true);
    await ledger.noteActive('b', NOW + 10);
    await ledger.noteActive('c', NOW + 20);
    await ledger.noteActive('c', NOW + 30);
    expect(await ledger.othersActiveSince('c', NOW + 10)).toBe(true);
    expect(await ledger.othersActiveSince('c', NOW + 11)).toBe(false);
    expect(await ledger.othersActiveSince('b', NOW + 30)).toBe(true);
  });
});

describe('the fair share', () => {
  function fairShare(clock: ManualClock, ledger: ShareLedger = createMemoryShareLedger({ clock })) {
    const spends: string[] = [];
    const telemetry: Telemetry = { ...noTelemetry, upstreamSpend: (subject, family) => spends.push(`${subject}/${family}`) };
    return { share: createFairShare({ ledger, clock, telemetry }), spends };
  }

  async function spendUntilRefused(share: ReturnType<typeof fairShare>['share'], who: UpstreamCaller, state: LimitState, most = 100): Promise<number> {
    for (let n = 0; n < most; n++) {
      try {
        await share.spend('logs', 'logs-limit', state, who);
      } catch (error) {
        if (error instanceof ShareDenied) return n;
        throw error;
      }
    }
    return most;
  }

  it('names calendar-aligned periods by the clock alone', () => {
    expect(currentPeriod(limitOf(10), NOW)).toEqual({ id: Math.floor(NOW / HOUR), resetAtMs: NOW + RESET_S * 1000 });
    expect(currentPeriod(limitOf(10), NOW + RESET_S * 1000)?.id).toBe(Math.floor(NOW / HOUR) + 1);
    expect(currentPeriod({ ...limitOf(10), periodMs: undefined }, NOW)).toBeUndefined();
    expect(currentPeriod({ ...limitOf(10), limit: undefined }, NOW)).toBeUndefined();
  });

  it('holds a key to its share while another key is active, and only then', async () => {
    const clock = new ManualClock(NOW);
    const { share, spends } = fairShare(clock);
    share.seen(caller('script'));
    // Alone: the whole limit, and more (the budget gate guards the limit itself).
    expect(await spendUntilRefused(share, caller('script'), limitOf(10), 12)).toBe(12);
    share.seen(caller('dashboard'));
    const refused = await share.spend('logs', 'logs-limit', limitOf(10), caller('script')).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(ShareDenied);
    expect(refused).toBeInstanceOf(BudgetDenied);
    expect(refused).toMatchObject({ reason: 'share', keyId: 'script', spent: 12, allowed: 5, limit: 10, retryAfterS: RESET_S });
    // The other key spends its own share, and the refused calls were not counted.
    expect(await spendUntilRefused(share, caller('dashboard'), limitOf(10))).toBe(5);
    expect(spends.filter((s) => s === 'script/logs')).toHaveLength(12);
    expect(spends.filter((s) => s === 'dashboard/logs')).toHaveLength(5);

    // The next period starts every key afresh.
    clock.set(NOW + RESET_S * 1000);
    share.seen(caller('dashboard'));
    expect(await spendUntilRefused(share, caller('script'), limitOf(10))).toBe(5);
  });

  it('lets a key with a share of 1 spend everything, a small share at least one call, and holds nothing back before the limit is known', async () => {
    const clock = new ManualClock(NOW);
    const { share } = fairShare(clock);
    share.seen(caller('a'));
    share.seen(caller('b'));
    expect(await spendUntilRefused(share, caller('a', 1), limitOf(10), 15)).toBe(15);
    expect(await spendUntilRefused(share, caller('b', 0.01), limitOf(10))).toBe(1);
    expect(await spendUntilRefused(share, caller('c'), { ...limitOf(10), limit: undefined }, 15)).toBe(15);
    expect(await spendUntilRefused(share, caller('d'), { ...limitOf(10), periodMs: undefined }, 15)).toBe(15);
  });

  it('writes a key\'s activity at most every ten seconds, and lets calls through when the ledger fails', async () => {
    const clock = new ManualClock(NOW);
    const notes: number[] = [];
    const failing: ShareLedger = {
      addSpend: () => Promise.reject(new Error('store down')),
      noteActive: async (_key, atMs) => {
        notes.push(atMs);
        throw new Error('store down');
      },
      othersActiveSince: async () => true,
    };
    const { share, spends } = fairShare(clock, failing);
    share.seen(caller('a'));
    clock.advance(ACTIVITY_NOTE_INTERVAL_MS - 1);
    share.seen(caller('a'));
    clock.advance(1);
    share.seen(caller('a'));
    share.seen(undefined);
    expect(notes).toEqual([NOW, NOW + ACTIVITY_NOTE_INTERVAL_MS]);
    expect(await spendUntilRefused(share, caller('a'), limitOf(2), 5)).toBe(5);
    expect(spends).toHaveLength(5);
  });
});

describe('the fair share through the server', () => {
  const clock = new ManualClock(NOW);
  let stack: Stack;
  let exporter: PrometheusTelemetry;
  afterEach(async () => {
    stack.sim.assertNoViolations();
    await stack.close();
  });

  const key = (subject: string, extra: Partial<ApiKeyConfig> = {}): ApiKeyConfig => ({ hash: sha256Hex(`${subject}-token`), subject, roles: ['viewer'], ...extra });

  /** Logs budget of 20 an hour; no reserve and no pacing, so only the share holds anything back. */
  async function start(keys: ApiKeyConfig[], upstreamShare?: number) {
    clock.set(NOW);
    exporter = createPrometheusTelemetry({ version: 'test', defaultMetrics: false });
    stack = await startStack({
      clock,
      keys,
      telemetry: exporter,
      simulator: { rateLimits: { logs: { limit: 20, periodS: 3_600 } } },
      policy: { ...DEFAULT_UPSTREAM_POLICY, budget: { ...DEFAULT_UPSTREAM_POLICY.budget, reserveFraction: 0, pacing: false } },
      ...(upstreamShare !== undefined ? { server: { auth: { mode: 'keys', keys, upstreamShare } } } : {}),
    });
  }

  async function get(subject: string, path: string, headers: Record<string, string> = {}) {
    const res = await stack.app.get(path, { headers: { authorization: `Bearer ${subject}-token`, ...headers } });
    const body = (await res.json()) as any;
    return { status: res.status, cache: res.headers.get('x-tinkr-cache'), age: res.headers.get('age'), retryAfter: res.headers.get('retry-after'), body };
  }
  /** A query no other request of the test asked: it needs Datadog unless held back. */
  const panel = (service: string, n: number) => `/logs?service=${service}&since=15m&limit=${n}`;
  /** The query of each logs search the simulator received. */
  const queriesAsked = () => stack.sim.requests.filter((r) => r.endpoint === 'logs').map((r) => (r.body as { filter: { query: string } }).filter.query);
  const metric = async (name: string, labels: Record<string, string>) => valueOf(parsePrometheus(await exporter.metrics()), name, labels);

  it('stops a script at its share while an active dashboard still gets fresh data, and counts spends per subject', async () => {
    await start([key('dashboard'), key('script')]);
    expect((await get('dashboard', panel('checkout', 1))).cache).toBe('miss');

    const answers = [];
    for (let n = 1; n <= 14; n++) answers.push(await get('script', panel('ledger', n)));
    expect(answers.slice(0, 10).map((a) => a.cache)).toEqual(Array(10).fill('miss'));
    for (const refused of answers.slice(10)) {
      expect(refused).toMatchObject({ status: 429, retryAfter: String(RESET_S) });
      expect(refused.body).toMatchObject({
        code: 'RATE_LIMITED',
        detail: `this key has spent its share of the Datadog logs budget (50 %: 10 of 20 calls this period) while other keys are active; retry in ${RESET_S} s`,
      });
    }
    expect(stack.sim.callCount('logs')).toBe(11);

    // The dashboard's new panels reach Datadog and are answered, up to its own share.
    for (let n = 2; n <= 10; n++) expect(await get('dashboard', panel('checkout', n))).toMatchObject({ status: 200, cache: 'miss' });
    expect(stack.sim.callCount('logs')).toBe(20);
    expect(queriesAsked().slice(-9)).toEqual(Array(9).fill('service:"checkout"'));
    expect(stack.sim.rateLimit.remaining('logs')).toBe(0);

    expect(await metric('tinkr_upstream_spend_total', { subject: 'script', family: 'logs' })).toBe(10);
    expect(await metric('tinkr_upstream_spend_total', { subject: 'dashboard', family: 'logs' })).toBe(10);
    expect(await metric('tinkr_budget_gate_total', { family: 'logs', outcome: 'share' })).toBe(4);
  });

  it('lets a key alone spend the whole budget once the others have been quiet for five minutes, and holds it when they return', async () => {
    await start([key('dashboard'), key('script')]);
    expect((await get('dashboard', panel('checkout', 1))).cache).toBe('miss');
    for (let n = 1; n <= 10; n++) expect((await get('script', panel('ledger', n))).cache).toBe('miss');

    // Exactly five minutes after the dashboard's request it still counts as active.
    clock.set(NOW + ACTIVE_KEY_WINDOW_MS);
    expect((await get('script', panel('ledger', 11))).body.code).toBe('RATE_LIMITED');
    clock.set(NOW + ACTIVE_KEY_WINDOW_MS + 1);
    for (let n = 11; n <= 17; n++) expect((await get('script', panel('ledger', n))).cache).toBe('miss');
    expect(stack.sim.callCount('logs')).toBe(18);

    // The dashboard is back: the script is far past its share, the dashboard gets what is left.
    expect((await get('dashboard', panel('checkout', 2))).cache).toBe('miss');
    expect((await get('script', panel('ledger', 18))).status).toBe(429);
    expect((await get('dashboard', panel('checkout', 3))).cache).toBe('miss');
    expect(stack.sim.callCount('logs')).toBe(20);
    expect(await metric('tinkr_upstream_spend_total', { subject: 'script', family: 'logs' })).toBe(17);
  });

  it('answers a key past its share from its cache when it can, with a warning; 429 otherwise and for no-cache', async () => {
    await start([key('dashboard'), key('script')]);
    expect((await get('dashboard', panel('checkout', 1))).cache).toBe('miss');
    for (let n = 1; n <= 10; n++) expect((await get('script', panel('ledger', n))).cache).toBe('miss');

    // The next 10-second bucket: the previous one is served at once while its refresh is
    // refused for the key's share, quietly (stale-while-revalidate).
    clock.advance(10_000);
    const revalidating = await get('script', panel('ledger', 3));
    expect(revalidating).toMatchObject({ status: 200, cache: 'stale', age: '10' });
    expect(revalidating.body.meta.warnings).toEqual([]);
    await eventually(() => stack.engine.inspect().refreshes === 0, 'the refresh was refused');
    expect(stack.sim.callCount('logs')).toBe(11);

    // One step later every panel needs Datadog again.
    clock.advance(10_000);
    const stale = await get('script', panel('ledger', 3));
    expect(stale).toMatchObject({ status: 200, cache: 'stale', age: '20' });
    expect(stale.body.data).toHaveLength(3);
    expect(stale.body.meta.warnings).toEqual([
      {
        code: 'budget_share',
        message: `this key has spent its share of the Datadog logs budget (50 %: 10 of 20 calls this period) while other keys are active, until the next period in ${RESET_S - 20} s; this answer is from the cache, 20 s old`,
      },
    ]);
    expect((await get('script', panel('ledger', 3), { 'cache-control': 'no-cache' })).body.code).toBe('RATE_LIMITED');
    expect(await get('script', panel('ledger', 11))).toMatchObject({ status: 429, retryAfter: String(RESET_S - 20) });
    expect(stack.sim.callCount('logs')).toBe(11);

    // The same panel asked by the dashboard is fresh.
    expect((await get('dashboard', panel('ledger', 3))).cache).toBe('miss');
    expect(stack.sim.callCount('logs')).toBe(12);
  });

  it("takes each key's own upstream_share over [auth] upstream_share", async () => {
    await start([key('dashboard'), key('script', { upstream_share: 0.25 })], 0.75);
    expect((await get('dashboard', panel('checkout', 1))).cache).toBe('miss');
    const script = [];
    for (let n = 1; n <= 6; n++) script.push((await get('script', panel('ledger', n))).status);
    expect(script).toEqual([200, 200, 200, 200, 200, 429]);
    // The dashboard may spend 15 of 20 (0.75); only 14 are left after the script's 5 and its first.
    for (let n = 2; n <= 15; n++) expect((await get('dashboard', panel('checkout', n))).cache).toBe('miss');
    expect(stack.sim.callCount('logs')).toBe(20);
  });

  it('gives a key that joined the call of a key past its share a call of its own', async () => {
    await start([key('dashboard'), key('script')]);
    expect((await get('dashboard', panel('checkout', 1))).cache).toBe('miss');
    for (let n = 1; n <= 10; n++) expect((await get('script', panel('ledger', n))).cache).toBe('miss');

    // A 429 closes the gate for two seconds: calls started now wait for it in the gate.
    stack.sim.faults.add({ kind: 'status', status: 429, resetS: 2, endpoint: 'logs' });
    const first = get('dashboard', panel('checkout', 2));
    await eventually(() => stack.engine.inspect().budgetWaits === 1, 'the dashboard waits in the gate');
    const script = get('script', panel('payments-api', 1));
    await eventually(() => stack.engine.inspect().budgetWaits === 2, 'the script waits in the gate');
    const dashboard = get('dashboard', panel('payments-api', 1));
    await eventually(() => stack.engine.inspect().waiters === 3, "the dashboard joins the script's call");
    expect(stack.engine.inspect().flights).toBe(2);

    clock.advance(2_000);
    expect((await first).cache).toBe('miss');
    expect((await script).body.code).toBe('RATE_LIMITED');
    expect(await dashboard).toMatchObject({ status: 200, cache: 'miss' });
    expect(queriesAsked().at(-1)).toBe('service:"payments-api"');
    expect(await metric('tinkr_upstream_spend_total', { subject: 'dashboard', family: 'logs' })).toBe(4);
  });

  it('shows the spend of auth.mode = "none" as anonymous', async () => {
    clock.set(NOW);
    exporter = createPrometheusTelemetry({ version: 'test', defaultMetrics: false });
    stack = await startStack({ clock, telemetry: exporter, server: { auth: { mode: 'none', keys: [] } } });
    const res = await fetch(`${stack.app.url}${panel('checkout', 1)}`);
    expect(res.status).toBe(200);
    expect(await metric('tinkr_upstream_spend_total', { subject: 'anonymous', family: 'logs' })).toBe(1);
  });
});
