import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.ts';
import { classifyFailure, readWindow } from '../../src/tail/poll.ts';
import type { TailSource } from '../../src/tail/source.ts';
import { BudgetDenied } from '../../src/upstream/budget.ts';
import { ShareDenied } from '../../src/upstream/fair-share.ts';
import type { CallContext } from '../../src/upstream/types.ts';
import { fakeSource, log, type SourceCall } from './fake-source.ts';

const ctx: CallContext = { signal: new AbortController().signal, deadline: Infinity, noCache: false, partition: '', stats: { upstreamCalls: 0 } };

describe('readWindow', () => {
  const many = Array.from({ length: 2_500 }, (_, i) => log(`l${i}`, 1_000_000 + i));

  it('pages back while every log of a page is new, and stops at the first page that holds one already sent', async () => {
    const calls: SourceCall[] = [];
    const seen = new Set(many.slice(0, 1_200).map((l) => l.id));
    const read = await readWindow({ source: fakeSource(many, calls), query: '*', fromMs: 0, toMs: 2_000_000, maxPages: 5, seen: (id) => seen.has(id) }, ctx);
    expect(calls.map((c) => c.cursor)).toEqual([undefined, '1000']);
    expect(read).toMatchObject({ complete: true, gap: false });
    expect(read.items).toHaveLength(2_000);
  });

  it('reports a gap when the page cap is reached with every page new', async () => {
    const read = await readWindow({ source: fakeSource(many), query: '*', fromMs: 0, toMs: 2_000_000, maxPages: 2, seen: () => false }, ctx);
    expect(read).toMatchObject({ complete: true, gap: true });
    expect(read.items.map((l) => l.id).slice(0, 2)).toEqual(['l2499', 'l2498']);
  });

  it('keeps what the first pages found when a later one fails, and marks the read incomplete', async () => {
    const source = fakeSource(many);
    let pages = 0;
    const failing: TailSource = {
      page: (request, c) => (++pages === 2 ? Promise.reject(new AppError('UPSTREAM_ERROR', 'boom')) : source.page(request, c)),
    };
    const read = await readWindow({ source: failing, query: '*', fromMs: 0, toMs: 2_000_000, maxPages: 5, seen: () => false }, ctx);
    expect(read).toMatchObject({ complete: false, gap: false, warnings: [{ code: 'page_failed' }] });
    expect(read.items).toHaveLength(1_000);
  });
});

describe('classifyFailure', () => {
  const pacing = { intervalMs: 2_000, maxDelayMs: 60_000 };

  it('asks again after the interval when the gate spreads the budget, without counting a failure', () => {
    expect(classifyFailure(new BudgetDenied('pacing', 'logs', 3_000), pacing, 0)).toMatchObject({ outcome: 'held', delayMs: 2_000, fatal: false, warning: { code: 'budget_pacing' } });
    expect(classifyFailure(new BudgetDenied('reserve', 'logs', 3_000), pacing, 0)).toMatchObject({ outcome: 'held', delayMs: 2_000, warning: { code: 'budget_reserve' } });
  });

  it('waits for the reset of a spent budget or a 429, at most the longest retry delay', () => {
    expect(classifyFailure(new BudgetDenied('exhausted', 'logs', 30), pacing, 0)).toMatchObject({ outcome: 'rate_limited', delayMs: 30_000, warning: { code: 'budget_exhausted' } });
    expect(classifyFailure(new BudgetDenied('exhausted', 'logs', 3_000), pacing, 0)).toMatchObject({ delayMs: 60_000 });
    const limited = new AppError('UPSTREAM_RATE_LIMITED', 'Datadog logs rate limit reached; retry in 7 s', { retryAfterS: 7 });
    expect(classifyFailure(limited, pacing, 0)).toMatchObject({ outcome: 'rate_limited', delayMs: 7_000, warning: { code: 'upstream_rate_limited' } });
  });

  it("waits when the paying key has spent its fair share, saying so", () => {
    const denied = new ShareDenied('logs', { keyId: 'k', subject: 'grafana', upstreamShare: 0.5 }, 150, 150, 300, 40);
    expect(classifyFailure(denied, pacing, 0)).toMatchObject({
      outcome: 'rate_limited',
      delayMs: 40_000,
      warning: { code: 'budget_share', message: expect.stringContaining('this key has spent its share') },
    });
  });

  it('backs off exponentially from the interval after other failures, bounded', () => {
    const error = new AppError('UPSTREAM_TIMEOUT', 'Datadog did not answer');
    expect([0, 1, 2, 3, 10].map((n) => classifyFailure(error, pacing, n).delayMs)).toEqual([2_000, 4_000, 8_000, 16_000, 60_000]);
    expect(classifyFailure(error, pacing, 0)).toMatchObject({ outcome: 'failed', fatal: false, warning: { code: 'upstream_timeout' } });
  });

  it('calls a query Datadog rejects fatal, and hides the cause of an unexpected error', () => {
    expect(classifyFailure(new AppError('UPSTREAM_BAD_QUERY', 'Datadog rejected the logs query: nope'), pacing, 0).fatal).toBe(true);
    const odd = classifyFailure(new TypeError('secret detail'), pacing, 0);
    expect(odd.warning).toEqual({ code: 'internal', message: expect.not.stringContaining('secret detail') });
  });
});
