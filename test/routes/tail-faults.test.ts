import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_PACED_AGE_MS } from '../../src/upstream/budget.ts';
import { DEFAULT_LOOKBACK_MS } from '../../src/tail/options.ts';
import { createPrometheusTelemetry } from '../../src/telemetry/prometheus.ts';
import { ManualClock } from '../helpers/manual-clock.ts';
import { startStack, type Stack } from '../helpers/stack.ts';
import { tailHarness, type TailHarness } from '../helpers/tail.ts';

/**
 * A live tail through upstream trouble: a poll that fails or is rate-limited becomes an
 * `event: warning`, the stream stays open, and the next answer still brings every log that
 * appeared meanwhile (checked against the simulator's ground truth). Budget pacing spaces the
 * polls out instead.
 */
const NOW = Date.parse('2026-11-25T04:00:00.000Z');

interface Setup {
  clock: ManualClock;
  stack: Stack;
  tail: TailHarness;
}

async function setup(logsPerHour: number): Promise<Setup> {
  const clock = new ManualClock(NOW);
  const telemetry = createPrometheusTelemetry({ version: 'test', defaultMetrics: false });
  const stack = await startStack({ clock, telemetry, simulator: { rateLimits: { logs: { limit: logsPerHour, periodS: 3_600 } } } });
  return { clock, stack, tail: tailHarness(() => stack, clock, telemetry) };
}

describe('GET /logs/tail when polls fail', () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setup(1_000_000);
  });
  afterAll(() => s.stack.close());
  afterEach(async () => {
    await s.tail.closeAll();
    s.stack.sim.assertNoViolations();
    s.stack.sim.faults.clear();
  });

  it('warns of a rate-limited poll, waits for the reset, then delivers what arrived meanwhile', async () => {
    const query = 'service:payments-api';
    const startedAt = s.clock.now();
    const before = new Set(s.tail.visible(query, startedAt - DEFAULT_LOOKBACK_MS));
    const client = await s.tail.subscribe('?service=payments-api');
    await s.tail.step();
    s.stack.sim.faults.add({ kind: 'status', status: 429, endpoint: 'logs', resetS: 30 });
    await s.tail.step();
    await client.until((c) => c.data('warning').length === 1, 'a warning');
    expect(client.data('warning')[0]).toEqual({ code: 'budget_exhausted', message: "Datadog's logs budget is spent; the next poll in 30 s" });
    expect(await s.tail.metric('tinkr_tail_polls_total', { outcome: 'rate_limited' })).toBe(1);

    // Nothing is asked before the reset; then one poll brings the whole pause.
    const calls = s.stack.sim.callCount('logs');
    for (let i = 0; i < 5; i++) s.clock.advance(2_000);
    expect(s.stack.sim.callCount('logs')).toBe(calls);
    await s.tail.step(1, 20_000);
    expect(s.stack.sim.callCount('logs')).toBe(calls + 1);
    const expected = s.tail.arrivedSince(query, startedAt - DEFAULT_LOOKBACK_MS, before);
    await client.until((c) => c.logIds().length === expected.size, 'every log of the pause');
    expect(new Set(client.logIds())).toEqual(expected);
    expect(client.ended).toBe(false);
  });

  it('warns of a failed poll and goes on at the next one', async () => {
    const query = 'service:ledger';
    const startedAt = s.clock.now();
    const before = new Set(s.tail.visible(query, startedAt - DEFAULT_LOOKBACK_MS));
    const client = await s.tail.subscribe('?service=ledger');
    s.stack.sim.faults.add({ kind: 'malformed', variant: 'non-json', endpoint: 'logs' });
    await s.tail.step();
    await client.until((c) => c.data('warning').length === 1, 'a warning');
    expect(client.data('warning')[0]).toMatchObject({ code: 'upstream_error', message: expect.stringContaining('not valid JSON') });
    for (let i = 0; i < 4; i++) await s.tail.step();
    const expected = s.tail.arrivedSince(query, startedAt - DEFAULT_LOOKBACK_MS, before);
    expect(expected.size).toBeGreaterThan(0);
    await client.until((c) => c.logIds().length === expected.size, 'every log');
    expect(new Set(client.logIds())).toEqual(expected);
    expect(await s.tail.metric('tinkr_tail_polls_total', { outcome: 'failed' })).toBe(1);
  });
});

describe('GET /logs/tail under budget pacing', () => {
  let s: Setup;
  beforeAll(async () => {
    // 40 searches an hour: after a burst of four, the gate spreads the rest over the hour.
    s = await setup(40);
  });
  afterAll(() => s.stack.close());

  it('polls less often while the gate paces, and still loses no log', async () => {
    const query = 'service:checkout';
    const startedAt = s.clock.now();
    const before = new Set(s.tail.visible(query, startedAt - DEFAULT_LOOKBACK_MS));
    const client = await s.tail.subscribe('?service=checkout');
    const intervals = 30;
    for (let i = 0; i < intervals; i++) await s.tail.step();
    const calls = s.stack.sim.callCount('logs');
    expect(calls).toBeLessThan(intervals / 3);
    expect(await s.tail.metric('tinkr_tail_polls_total', { outcome: 'held' })).toBeGreaterThan(intervals / 2);
    await client.until((c) => c.data('warning').some((w) => w.code === 'budget_pacing'), 'a pacing warning');
    // Warned once, not once per held poll.
    expect(client.data('warning').filter((w) => w.code === 'budget_pacing').length).toBeLessThanOrEqual(2);

    // Past max_paced_age the gate lets the stream through: everything since its last answer arrives.
    await s.tail.step(1, DEFAULT_MAX_PACED_AGE_MS);
    expect(s.stack.sim.callCount('logs')).toBe(calls + 1);
    const expected = s.tail.arrivedSince(query, startedAt - DEFAULT_LOOKBACK_MS, before);
    await client.until((c) => c.logIds().length === expected.size, 'every log');
    expect(new Set(client.logIds())).toEqual(expected);
    expect(client.logIds()).toHaveLength(expected.size);
    client.close();
    await s.tail.closeAll();
    s.stack.sim.assertNoViolations();
  });
});
