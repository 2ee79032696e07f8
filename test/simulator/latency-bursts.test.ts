import { afterEach, describe, expect, it } from 'vitest';
import type { SpanEvent } from '@tinkr/datadog-simulator';
import { LatencyBurstSet, MAX_LATENCY_BURSTS, parseLatencyBurst } from '@tinkr/datadog-simulator/data/latency-bursts';
import { createGroundTruth } from '@tinkr/datadog-simulator/truth';
import { callDatadog } from '../helpers/datadog-fetch.ts';
import { ManualClock, TEST_NOW as NOW } from '../helpers/manual-clock.ts';
import { sharedTestSimulator } from '../helpers/simulator.ts';

/**
 * Latency bursts (data/latency-bursts.ts): the spans of one service in one env and window last
 * longer, by the same numbers in span searches, span aggregates and the ground truth; every
 * other span is as generated. The expected durations are computed here from the generated
 * spans (a truth without bursts), not taken from the simulator's burst code.
 */

const MINUTE = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();
const durationNs = (s: SpanEvent) => s.attributes.custom['duration'] as number;
const startMs = (s: SpanEvent) => Date.parse(s.attributes.start_timestamp);

const { sim } = sharedTestSimulator();
afterEach(() => sim.latencyBursts.clear());

/** The spans as generated: a ground truth of its own, without any burst. */
const generated = createGroundTruth(new ManualClock(NOW));

const WINDOW = { fromMs: NOW - 10 * MINUTE, toMs: NOW - 5 * MINUTE };
/** Wider than the burst on both sides, so untouched spans around it are checked too. */
const AROUND = { from: NOW - 20 * MINUTE, to: NOW };

function nearestRank(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;
}

function inBurst(s: SpanEvent, service: string, env = 'prod'): boolean {
  return s.attributes.service === service && s.attributes.env === env && startMs(s) >= WINDOW.fromMs && startMs(s) < WINDOW.toMs;
}

describe('parseLatencyBurst', () => {
  it('fills the defaults: factor 1, addMs 0, env prod', () => {
    expect(parseLatencyBurst({ service: 'ledger', fromMs: 1, toMs: 2, addMs: 5 })).toEqual({ service: 'ledger', fromMs: 1, toMs: 2, factor: 1, addMs: 5, env: 'prod' });
    expect(parseLatencyBurst({ service: 'ledger', fromMs: 1, toMs: 2, factor: 2.5, env: 'staging' })).toMatchObject({ factor: 2.5, addMs: 0, env: 'staging' });
  });

  it.each([
    [null, /must be an object/],
    [[], /must be an object/],
    [{ fromMs: 1, toMs: 2, factor: 2 }, /service/],
    [{ service: '', fromMs: 1, toMs: 2, factor: 2 }, /service/],
    [{ service: 'ledger', fromMs: 2, toMs: 2, factor: 2 }, /fromMs < toMs/],
    [{ service: 'ledger', fromMs: 1.5, toMs: 2, factor: 2 }, /epoch milliseconds/],
    [{ service: 'ledger', fromMs: 1, toMs: 2 }, /factor above 1 or .*addMs above 0/],
    [{ service: 'ledger', fromMs: 1, toMs: 2, factor: 1, addMs: 0 }, /factor above 1 or .*addMs above 0/],
    [{ service: 'ledger', fromMs: 1, toMs: 2, factor: 0.5 }, /factor must be a number from 1 to 100/],
    [{ service: 'ledger', fromMs: 1, toMs: 2, factor: 101 }, /factor/],
    [{ service: 'ledger', fromMs: 1, toMs: 2, factor: '2' }, /factor/],
    [{ service: 'ledger', fromMs: 1, toMs: 2, factor: Number.NaN }, /factor/],
    [{ service: 'ledger', fromMs: 1, toMs: 2, addMs: -1 }, /addMs must be an integer from 0 to 60000/],
    [{ service: 'ledger', fromMs: 1, toMs: 2, addMs: 1.5 }, /addMs/],
    [{ service: 'ledger', fromMs: 1, toMs: 2, addMs: 60_001 }, /addMs/],
    [{ service: 'ledger', fromMs: 1, toMs: 2, factor: 2, env: 'dev' }, /env must be one of prod, staging/],
  ])('refuses %j', (input, message) => {
    expect(() => parseLatencyBurst(input)).toThrow(TypeError);
    expect(() => parseLatencyBurst(input)).toThrow(message);
  });

  it(`holds at most ${MAX_LATENCY_BURSTS} bursts`, () => {
    const set = new LatencyBurstSet();
    for (let i = 0; i < MAX_LATENCY_BURSTS; i++) set.add({ service: 'ledger', fromMs: i, toMs: i + 1, addMs: 1 });
    expect(() => set.add({ service: 'ledger', fromMs: 0, toMs: 1, addMs: 1 })).toThrow(RangeError);
    expect(set.size).toBe(MAX_LATENCY_BURSTS);
  });
});

describe('latency bursts in the data', () => {
  it("slow the service's prod spans in the window, and no other span", () => {
    const before = generated.spans(AROUND);
    sim.latencyBursts.add({ service: 'payments-api', ...WINDOW, factor: 3, addMs: 7 });
    const after = sim.truth.spans(AROUND);
    // The same spans, in the same order, at the same starts: only durations may change.
    expect(after.map((s) => [s.id, s.attributes.start_timestamp])).toEqual(before.map((s) => [s.id, s.attributes.start_timestamp]));
    const slowed = before.filter((s) => inBurst(s, 'payments-api'));
    expect(slowed.length).toBeGreaterThan(20);
    after.forEach((s, i) => {
      const was = before[i]!;
      const ms = durationNs(was) / 1e6;
      if (inBurst(was, 'payments-api')) {
        expect(durationNs(s)).toBe((Math.round(ms * 3) + 7) * 1e6);
        expect(Date.parse(s.attributes.end_timestamp)).toBe(startMs(s) + Math.round(ms * 3) + 7);
      } else {
        expect(s).toEqual(was);
      }
    });
    // Staging spans of the service in the window and its callers' spans are among the untouched.
    expect(before.some((s) => s.attributes.service === 'payments-api' && s.attributes.env === 'staging' && startMs(s) >= WINDOW.fromMs && startMs(s) < WINDOW.toMs)).toBe(true);
    expect(before.some((s) => inBurst(s, 'checkout'))).toBe(true);
  });

  it('compose in the order armed, and a staging burst leaves prod alone', () => {
    sim.latencyBursts.add({ service: 'ledger', ...WINDOW, factor: 2 });
    sim.latencyBursts.add({ service: 'ledger', ...WINDOW, addMs: 100 });
    sim.latencyBursts.add({ service: 'ledger', ...WINDOW, factor: 5, env: 'staging' });
    const before = generated.spans({ ...AROUND, query: 'service:ledger' });
    const after = sim.truth.spans({ ...AROUND, query: 'service:ledger' });
    expect(after).toHaveLength(before.length);
    const staged = before.filter((s) => inBurst(s, 'ledger', 'staging'));
    expect(staged.length).toBeGreaterThan(0);
    after.forEach((s, i) => {
      const ms = durationNs(before[i]!) / 1e6;
      const expected = inBurst(s, 'ledger') ? Math.round(ms * 2) + 100 : inBurst(s, 'ledger', 'staging') ? Math.round(ms * 5) : ms;
      expect(durationNs(s)).toBe(expected * 1e6);
    });
  });

  it('show in the spans search and in truth.trace as in truth.spans', async () => {
    sim.latencyBursts.add({ service: 'payments-api', ...WINDOW, factor: 4 });
    const query = 'service:payments-api';
    const truth = sim.truth.spans({ query, from: WINDOW.fromMs, to: WINDOW.toMs });
    const res = await callDatadog(sim.url, '/api/v2/spans/events/search', {
      body: { data: { type: 'search_request', attributes: { filter: { query, from: iso(WINDOW.fromMs), to: iso(WINDOW.toMs) }, page: { limit: 1000 } } } },
    });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual(truth);
    const generatedNs = generated.spans({ query, from: WINDOW.fromMs, to: WINDOW.toMs }).map(durationNs);
    expect(truth.map(durationNs)).not.toEqual(generatedNs);

    const slowed = truth.find((s) => s.attributes.env === 'prod')!;
    const trace = sim.truth.trace(slowed.attributes.trace_id);
    expect(trace.find((s) => s.id === slowed.id)).toEqual(slowed);
    // Its callers in the same trace keep their generated spans.
    const callers = trace.filter((s) => s.attributes.service !== 'payments-api');
    expect(callers).toEqual(generated.trace(slowed.attributes.trace_id).filter((s) => s.attributes.service !== 'payments-api'));
  });

  it('show in the spans aggregate and its truth: p95 per minute, including slots aggregated before the burst', async () => {
    const query = 'service:payments-api';
    const body = {
      data: {
        type: 'aggregate_request',
        attributes: {
          filter: { query, from: iso(AROUND.from), to: iso(AROUND.to) },
          compute: [{ aggregation: 'pc95', metric: '@duration', type: 'timeseries', interval: '1m' }],
        },
      },
    };
    const points = async () => {
      const res = await callDatadog(sim.url, '/api/v2/spans/analytics/aggregate', { body });
      expect(res.status).toBe(200);
      return (res.body.data[0].attributes.computes.c0 as Array<{ time: string; value: number }>).map((p) => [Date.parse(p.time), p.value]);
    };
    // Asked once before: the simulator remembers the settled slots' rows, which the burst must renew.
    const first = await points();
    sim.latencyBursts.add({ service: 'payments-api', ...WINDOW, factor: 10 });
    const second = await points();

    // The expected p95s, recounted from the generated spans and the burst's rule.
    const expected = new Map<number, number[]>();
    for (const s of generated.spans({ ...AROUND, query })) {
      const ms = durationNs(s) / 1e6;
      const minute = Math.floor(startMs(s) / MINUTE) * MINUTE;
      expected.set(minute, [...(expected.get(minute) ?? []), (inBurst(s, 'payments-api') ? Math.round(ms * 10) : ms) * 1e6]);
    }
    const wanted = [...expected.entries()].sort((a, b) => a[0] - b[0]).map(([t, d]) => [t, nearestRank(d, 95)]);
    expect(second).toEqual(wanted);
    expect(sim.truth.spansAggregate({ query, ...AROUND, compute: { aggregation: 'pc95', metric: '@duration' }, intervalMs: MINUTE })[0]!.points).toEqual(wanted);
    // Inside the window every minute is slower than before; outside, every minute is as before.
    second.forEach(([t, value], i) => {
      const was = first[i]!;
      expect(was[0]).toBe(t);
      if (t! >= WINDOW.fromMs && t! < WINDOW.toMs) expect(value).toBeGreaterThan(was[1]!);
      else expect(value).toBe(was[1]);
    });
    // Another service's aggregate is untouched.
    const ledger = { query: 'service:ledger', ...AROUND, compute: { aggregation: 'pc95' as const, metric: '@duration' }, intervalMs: MINUTE };
    expect(sim.truth.spansAggregate(ledger)).toEqual(generated.spansAggregate(ledger));
  });

  it('leave the logs as generated', () => {
    sim.latencyBursts.add({ service: 'payments-api', ...WINDOW, factor: 10 });
    const window = { query: 'service:payments-api', from: WINDOW.fromMs, to: WINDOW.toMs };
    expect(sim.truth.logs(window)).toEqual(generated.logs(window));
  });
});
