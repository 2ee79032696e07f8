import { describe, expect, it, vi } from 'vitest';
import { AppError } from '../../src/errors.ts';
import { noTelemetry, type CacheRefreshOutcome, type Telemetry } from '../../src/telemetry/telemetry.ts';
import type { TimeRange } from '../../src/time/range.ts';
import type { UpstreamReply, UpstreamRequest } from '../../src/upstream-call.ts';
import type { AnswerIO, AnswerQuery } from '../../src/upstream/answer.ts';
import { BudgetDenied } from '../../src/upstream/budget.ts';
import { createEngine } from '../../src/upstream/engine.ts';
import { DEFAULT_UPSTREAM_POLICY } from '../../src/upstream/pipeline.ts';
import { createProductionGate, type ProductionGate } from '../../src/upstream/production-gate.ts';
import type { CallContext, Upstream } from '../../src/upstream/types.ts';
import { ManualClock } from '../helpers/manual-clock.ts';

/**
 * The engine against a fake Datadog call finished by hand, on a manual clock: what it asks,
 * when, and what each caller gets. No timing: every step waits for a condition.
 */

const NOW = Date.parse('2026-11-25T04:00:00.000Z');
const MIN = 60_000;
const TIMEOUT_MS = 10_000;
const eventually = (check: () => void) => vi.waitFor(check, { timeout: 15_000, interval: 5 });

const REQUEST: UpstreamRequest = { family: 'logs', method: 'POST', path: '/api/v2/logs/events/search', body: {} };

/** A Datadog call the test answers by hand (or at once with `auto`), honouring the call's signal. */
function fakeDatadog() {
  const pending: Array<{ ctx: CallContext; resolve: (reply: UpstreamReply) => void; reject: (error: unknown) => void }> = [];
  let auto: ((n: number, ctx: CallContext) => UpstreamReply | Promise<UpstreamReply>) | undefined;
  let calls = 0;
  const upstream: Upstream = {
    send(_request, ctx) {
      const n = ++calls;
      if (auto) return Promise.resolve(auto(n, ctx));
      return new Promise((resolve, reject) => {
        pending.push({ ctx, resolve, reject });
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
      });
    },
  };
  return {
    upstream,
    pending,
    get calls() {
      return calls;
    },
    answerAt(setter: typeof auto) {
      auto = setter;
    },
  };
}

/** A caller's context that counts how often its deadline machinery (`signal`) is asked for. */
function caller(clock: ManualClock, options: { noCache?: boolean } = {}) {
  const controller = new AbortController();
  let reads = 0;
  const ctx: CallContext = {
    get signal() {
      reads++;
      return controller.signal;
    },
    deadline: clock.now() + TIMEOUT_MS,
    noCache: options.noCache ?? false,
    partition: '',
    stats: { upstreamCalls: 0 },
  };
  return { ctx, controller, signalReads: () => reads };
}

function recorder() {
  const refreshes: Array<[string, CacheRefreshOutcome]> = [];
  const warnings: Array<Record<string, unknown>> = [];
  const telemetry: Telemetry = { ...noTelemetry, cacheRefresh: (family, outcome) => refreshes.push([family, outcome]) };
  return { refreshes, warnings, telemetry, log: { warn: (fields: Record<string, unknown>) => warnings.push(fields) } };
}

/** The last 15 minutes; its body names the range it was made for and what Datadog said. */
function panel(produce?: (range: TimeRange, io: AnswerIO) => Promise<unknown>): AnswerQuery {
  return {
    family: 'logs',
    route: 'test',
    identity: ['checkout'],
    time: { kind: 'instants', from: { kind: 'relative', offsetMs: 15 * MIN }, to: { kind: 'relative', offsetMs: 0 } },
    maxRangeMs: 24 * 60 * MIN,
    produce:
      produce ??
      (async (range, io) => {
        const reply = await io.fetch(REQUEST);
        return { said: reply.body, to: range.toMs, meta: { warnings: [] } };
      }),
  };
}

function engineAt(clock: ManualClock, datadog: ReturnType<typeof fakeDatadog>, seen = recorder(), production?: ProductionGate) {
  return createEngine({
    ...(production ? { production } : {}),
    upstream: datadog.upstream,
    clock,
    telemetry: seen.telemetry,
    cache: DEFAULT_UPSTREAM_POLICY.cache,
    origin: () => 'origin',
    requestTimeoutMs: TIMEOUT_MS,
    maxPacedAgeMs: DEFAULT_UPSTREAM_POLICY.budget.maxPacedAgeMs,
    log: seen.log,
  });
}

const json = (bytes: Buffer) => JSON.parse(bytes.toString('utf8')) as { said: unknown; to: number; meta: { warnings: unknown[] } };

describe('the engine', () => {
  it('serves a hit as the very bytes it kept, without building the caller’s deadline machinery', async () => {
    const clock = new ManualClock(NOW + 1_000);
    const datadog = fakeDatadog();
    datadog.answerAt((n) => ({ body: { n }, fetchedAt: clock.now() }));
    const engine = engineAt(clock, datadog);

    const first = await engine.answer(panel(), caller(clock).ctx);
    expect(first.cache).toBe('miss');
    // The range was snapped forward onto its 10 s step.
    expect(json(first.bytes)).toEqual({ said: { n: 1 }, to: NOW + 10_000, meta: { warnings: [] } });
    clock.set(NOW + 9_999);
    const second = caller(clock);
    const hit = await engine.answer(panel(), second.ctx);
    expect(hit).toMatchObject({ cache: 'hit', fetchedAt: NOW + 1_000 });
    // Not a copy, not a re-serialisation: the same buffer.
    expect(hit.bytes).toBe(first.bytes);
    expect(second.signalReads()).toBe(0);
    expect(datadog.calls).toBe(1);
  });

  it('dates an answer by its oldest call', async () => {
    const clock = new ManualClock(NOW);
    const datadog = fakeDatadog();
    datadog.answerAt((n) => ({ body: {}, fetchedAt: NOW + (n === 1 ? 300 : 100) }));
    const engine = engineAt(clock, datadog);
    const twoCalls = panel(async (_range, io) => [await io.fetch(REQUEST), await io.fetch(REQUEST)].length);
    expect(await engine.answer(twoCalls, caller(clock).ctx)).toMatchObject({ cache: 'miss', fetchedAt: NOW + 100 });
  });

  it('at a bucket roll answers at once from the previous bucket while exactly one refresh runs, then fresh', async () => {
    const clock = new ManualClock(NOW);
    const datadog = fakeDatadog();
    const seen = recorder();
    const engine = engineAt(clock, datadog, seen);
    const first = engine.answer(panel(), caller(clock).ctx);
    await eventually(() => expect(datadog.pending).toHaveLength(1));
    datadog.pending[0]!.resolve({ body: 'bucket 1', fetchedAt: NOW });
    const old = await first;

    clock.advance(10_001);
    const callers = Array.from({ length: 5 }, () => caller(clock));
    for (const c of callers) {
      const answer = await engine.answer(panel(), c.ctx);
      expect(answer).toMatchObject({ cache: 'stale', fetchedAt: NOW });
      expect(answer.bytes).toBe(old.bytes);
    }
    // One refresh for all of them; none of them built a deadline, none of them waits for it.
    expect(engine.inspect().refreshes).toBe(1);
    await eventually(() => expect(datadog.pending).toHaveLength(2));
    expect(callers.map((c) => c.signalReads())).toEqual([0, 0, 0, 0, 0]);
    // The refresh runs on its own deadline, not any caller's.
    expect(datadog.pending[1]!.ctx.deadline).toBe(clock.now() + TIMEOUT_MS);

    datadog.pending[1]!.resolve({ body: 'bucket 2', fetchedAt: clock.now() });
    await eventually(() => expect(engine.inspect().refreshes).toBe(0));
    const fresh = await engine.answer(panel(), caller(clock).ctx);
    expect(fresh.cache).toBe('hit');
    expect(json(fresh.bytes)).toMatchObject({ said: 'bucket 2', to: NOW + 20_000 });
    expect(datadog.calls).toBe(2);
    expect(seen.refreshes).toEqual([['logs', 'refreshed']]);
  });

  it('logs and counts a failed refresh, tries no other before the window ends, then makes callers wait', async () => {
    const clock = new ManualClock(NOW);
    const datadog = fakeDatadog();
    const seen = recorder();
    const engine = engineAt(clock, datadog, seen);
    datadog.answerAt(() => ({ body: 'bucket 1', fetchedAt: clock.now() }));
    await engine.answer(panel(), caller(clock).ctx);

    datadog.answerAt(() => Promise.reject(new AppError('UPSTREAM_ERROR', 'Datadog answered HTTP 503')));
    clock.advance(10_001);
    expect((await engine.answer(panel(), caller(clock).ctx)).cache).toBe('stale');
    await eventually(() => expect(seen.refreshes).toEqual([['logs', 'failed']]));
    expect(seen.warnings).toEqual([{ family: 'logs', route: 'test', code: 'UPSTREAM_ERROR' }]);
    expect(datadog.calls).toBe(2);

    // The rest of the window (until one step past freshness): stale, and nothing asked.
    clock.set(NOW + 19_999);
    expect((await engine.answer(panel(), caller(clock).ctx)).cache).toBe('stale');
    expect(engine.inspect().refreshes).toBe(0);
    expect(datadog.calls).toBe(2);

    // Past it, the caller waits for Datadog as without a cache (and gets its error).
    clock.set(NOW + 20_000);
    await expect(engine.answer(panel(), caller(clock).ctx)).rejects.toMatchObject({ code: 'UPSTREAM_ERROR' });
    expect(datadog.calls).toBe(3);
  });

  it('ends a refresh that hangs at its own deadline, whatever its callers do', async () => {
    const clock = new ManualClock(NOW);
    const datadog = fakeDatadog();
    const seen = recorder();
    const engine = engineAt(clock, datadog, seen);
    datadog.answerAt(() => ({ body: 'bucket 1', fetchedAt: clock.now() }));
    await engine.answer(panel(), caller(clock).ctx);
    datadog.answerAt(undefined);

    clock.advance(10_001);
    const leaving = caller(clock);
    expect((await engine.answer(panel(), leaving.ctx)).cache).toBe('stale');
    await eventually(() => expect(datadog.pending).toHaveLength(1));
    // The caller that started it going away changes nothing.
    leaving.controller.abort(new Error('gone'));
    expect(datadog.pending[0]!.ctx.signal.aborted).toBe(false);
    clock.advance(TIMEOUT_MS);
    await eventually(() => expect(seen.refreshes).toEqual([['logs', 'failed']]));
    expect(datadog.pending[0]!.ctx.signal.aborted).toBe(true);
    expect(engine.inspect()).toMatchObject({ refreshes: 0, flights: 0, waiters: 0 });
  });

  it('asks Datadog for no-cache, and keeps the answer only for a question already cached', async () => {
    const clock = new ManualClock(NOW);
    const datadog = fakeDatadog();
    datadog.answerAt((n) => ({ body: n, fetchedAt: clock.now() }));
    const engine = engineAt(clock, datadog);
    expect((await engine.answer(panel(), caller(clock, { noCache: true }).ctx)).cache).toBe('bypass');
    expect(engine.inspect().cacheEntries).toBe(0);
    expect((await engine.answer(panel(), caller(clock).ctx)).cache).toBe('miss');
    const refreshed = await engine.answer(panel(), caller(clock, { noCache: true }).ctx);
    expect(refreshed.cache).toBe('bypass');
    const hit = await engine.answer(panel(), caller(clock).ctx);
    expect(hit.cache).toBe('hit');
    expect(hit.bytes).toBe(refreshed.bytes);
    expect(datadog.calls).toBe(3);
  });

  it('answers stale with a warning when the budget refuses, re-serialising only then; a later call refused is a 429', async () => {
    const clock = new ManualClock(NOW);
    const datadog = fakeDatadog();
    datadog.answerAt(() => ({ body: 'bucket 1', fetchedAt: clock.now() }));
    const engine = engineAt(clock, datadog);
    const kept = await engine.answer(panel(), caller(clock).ctx);

    datadog.answerAt(() => Promise.reject(new BudgetDenied('exhausted', 'logs', 42)));
    clock.advance(20_000);
    const stale = await engine.answer(panel(), caller(clock).ctx);
    expect(stale.cache).toBe('stale');
    expect(json(stale.bytes).meta.warnings).toEqual([{ code: 'budget_exhausted', message: expect.stringMatching(/is spent \(next call in 42 s\).*20 s old/) }]);
    expect(json(kept.bytes).meta.warnings).toEqual([]);

    // An answer that needs two calls, the second refused: not finished, not kept, a 429.
    let n = 0;
    datadog.answerAt(() => (++n === 2 ? Promise.reject(new BudgetDenied('pacing', 'logs', 7)) : { body: 'page', fetchedAt: clock.now() }));
    const twoCalls: AnswerQuery = { ...panel(async (_r, io) => [await io.fetch(REQUEST), await io.fetch(REQUEST)].length), identity: ['two calls'] };
    await expect(engine.answer(twoCalls, caller(clock).ctx)).rejects.toMatchObject({ code: 'UPSTREAM_RATE_LIMITED', retryAfterS: 7 });
    expect(engine.inspect().cacheEntries).toBe(2);
  });

  it('makes heavy answers one after another when together they would hold more than the bound', async () => {
    const clock = new ManualClock(NOW);
    const datadog = fakeDatadog();
    const engine = engineAt(clock, datadog, recorder(), createProductionGate(6_000));
    const heavy = (name: string): AnswerQuery => ({ ...panel(), identity: [name], weight: 5_000 });
    const first = engine.answer(heavy('a'), caller(clock).ctx);
    const second = engine.answer(heavy('b'), caller(clock).ctx);
    await eventually(() => expect(engine.inspect()).toMatchObject({ inProduction: 5_000, productionsQueued: 1 }));
    expect(datadog.pending).toHaveLength(1);
    datadog.pending[0]!.resolve({ body: 'a', fetchedAt: NOW });
    expect((await first).cache).toBe('miss');
    await eventually(() => expect(datadog.pending).toHaveLength(2));
    datadog.pending[1]!.resolve({ body: 'b', fetchedAt: NOW });
    expect(json((await second).bytes).said).toBe('b');
    expect(engine.inspect()).toMatchObject({ inProduction: 0, productionsQueued: 0 });
  });

  it('makes single gated calls for callers that keep nothing, shared when asked to', async () => {
    const clock = new ManualClock(NOW);
    const datadog = fakeDatadog();
    const engine = engineAt(clock, datadog);
    const a = engine.call(REQUEST, caller(clock).ctx, { coalesce: true });
    const b = engine.call(REQUEST, caller(clock).ctx, { coalesce: true });
    await eventually(() => expect(datadog.pending).toHaveLength(1));
    datadog.pending[0]!.resolve({ body: 'polled', fetchedAt: NOW });
    expect(await Promise.all([a, b])).toEqual([
      { body: 'polled', fetchedAt: NOW },
      { body: 'polled', fetchedAt: NOW },
    ]);
    expect(engine.inspect().cacheEntries).toBe(0);

    datadog.answerAt(() => Promise.reject(new BudgetDenied('exhausted', 'logs', 9)));
    await expect(engine.call(REQUEST, caller(clock).ctx)).rejects.toMatchObject({ code: 'UPSTREAM_RATE_LIMITED', retryAfterS: 9 });
    expect(datadog.calls).toBe(2);
  });
});
