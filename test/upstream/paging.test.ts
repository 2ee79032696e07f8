import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.ts';
import { collectPages, type Page } from '../../src/upstream/paging.ts';

/** A fake upstream of `total` numbered items, answering pages from a numeric cursor. */
function source(total: number, options: { shortPages?: number; failAt?: number; timeoutAt?: number } = {}) {
  const calls: Array<{ pageLimit: number; cursor: string | undefined }> = [];
  const fetch = async (pageLimit: number, cursor: string | undefined): Promise<Page<number>> => {
    calls.push({ pageLimit, cursor });
    if (options.failAt === calls.length) throw new AppError('UPSTREAM_ERROR', 'Datadog answered HTTP 503');
    const start = cursor ? Number(cursor) : 0;
    const size = Math.min(pageLimit, options.shortPages ?? pageLimit, total - start);
    const items = Array.from({ length: Math.max(0, size) }, (_, i) => start + i);
    const end = start + items.length;
    return { items, after: end < total ? String(end) : undefined, timedOut: options.timeoutAt === calls.length, warnings: [] };
  };
  return { fetch, calls };
}

describe('collectPages', () => {
  it('pages to the limit, asking each page for exactly what is missing', async () => {
    const s = source(10_000);
    const result = await collectPages({ limit: 2500, pageMax: 1000, fetch: s.fetch });
    expect(result.items).toEqual(Array.from({ length: 2500 }, (_, i) => i));
    expect(s.calls.map((c) => c.pageLimit)).toEqual([1000, 1000, 500]);
    expect(result.after).toBe('2500');
    expect(result.partial).toBe(false);
  });

  it('stops at the end of the data with no cursor', async () => {
    const s = source(1200);
    const result = await collectPages({ limit: 5000, pageMax: 1000, fetch: s.fetch });
    expect(result.items).toHaveLength(1200);
    expect(result.after).toBeUndefined();
    expect(s.calls).toHaveLength(2);
  });

  it('resumes from a cursor', async () => {
    const s = source(100);
    const result = await collectPages({ limit: 10, pageMax: 1000, cursor: '40', fetch: s.fetch });
    expect(result.items[0]).toBe(40);
  });

  it('caps the pages and says so', async () => {
    const s = source(10_000, { shortPages: 10 });
    const result = await collectPages({ limit: 5000, pageMax: 1000, maxPages: 3, fetch: s.fetch });
    expect(s.calls).toHaveLength(3);
    expect(result.partial).toBe(true);
    expect(result.warnings.map((w) => w.code)).toEqual(['page_cap']);
    expect(result.after).toBe('30');
  });

  it('keeps what it has when a later page fails, and resumes at the failed page', async () => {
    const failing = source(10_000, { failAt: 2 });
    const partial = await collectPages({ limit: 3000, pageMax: 1000, fetch: failing.fetch });
    expect(partial.items).toHaveLength(1000);
    expect(partial.partial).toBe(true);
    expect(partial.warnings[0]?.code).toBe('page_failed');
    expect(partial.warnings[0]?.message).toMatch(/UPSTREAM_ERROR/);
    expect(partial.after).toBe('1000');
  });

  it('names a budget that ran out before a later page', async () => {
    let calls = 0;
    const result = await collectPages<number>({
      limit: 3000,
      pageMax: 1000,
      fetch: async () => {
        if (++calls === 3) throw new AppError('UPSTREAM_RATE_LIMITED', 'Datadog logs budget exhausted; retry in 42 s', { retryAfterS: 42 });
        return { items: Array(1000).fill(calls), after: String(calls), timedOut: false, warnings: [] };
      },
    });
    expect(result.items).toHaveLength(2000);
    expect(result.partial).toBe(true);
    expect(result.warnings).toEqual([{ code: 'budget_exhausted', message: "Datadog's budget ran out before upstream page 3 (next call in 42 s); results are incomplete" }]);
    expect(result.after).toBe('2');
  });

  it("names a key's fair share that ran out before a later page", async () => {
    let calls = 0;
    const result = await collectPages<number>({
      limit: 3000,
      pageMax: 1000,
      fetch: async () => {
        if (++calls === 2) throw new AppError('RATE_LIMITED', 'this key has spent its share; retry in 600 s', { retryAfterS: 600 });
        return { items: Array(1000).fill(calls), after: String(calls), timedOut: false, warnings: [] };
      },
    });
    expect(result).toMatchObject({ partial: true, after: '1' });
    expect(result.warnings).toEqual([
      { code: 'budget_share', message: "this key's share of Datadog's budget ran out before upstream page 2 (next period in 600 s); results are incomplete" },
    ]);
  });

  it('fails outright when the first page fails', async () => {
    const s = source(10, { failAt: 1 });
    await expect(collectPages({ limit: 5, pageMax: 1000, fetch: s.fetch })).rejects.toThrow(/503/);
  });

  it("stops and marks partial on Datadog's own timeout", async () => {
    const s = source(10_000, { timeoutAt: 1 });
    const result = await collectPages({ limit: 3000, pageMax: 1000, fetch: s.fetch });
    expect(s.calls).toHaveLength(1);
    expect(result.partial).toBe(true);
    expect(result.warnings.map((w) => w.code)).toEqual(['upstream_timeout']);
  });
});
