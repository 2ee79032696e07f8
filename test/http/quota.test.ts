import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/auth/keyring.ts';
import type { ApiKeyConfig } from '../../src/config/schema.ts';
import { problemSchema } from '../../src/schemas/common.ts';
import { startApp, type TestApp } from '../helpers/app.ts';
import { ManualClock } from '../helpers/manual-clock.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

/**
 * Per-key quotas through the real server, with the window driven by the injected clock: counts,
 * headers and recovery are asserted, never elapsed time.
 */
const NOW = Date.parse('2026-11-25T04:00:00.000Z');
const clock = new ManualClock(NOW);

const key = (token: string, extra: Partial<ApiKeyConfig> = {}): ApiKeyConfig => ({ hash: sha256Hex(token), subject: token, roles: ['viewer'], ...extra });
const KEYS = [
  key('three-a-minute', { quota: { requests: 3, per: '1m' } }),
  key('three-more-a-minute', { quota: { requests: 3, per: '1m' } }),
  key('default-quota'),
  key('no-quota', { quota: 'off' }),
];

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ clock, keys: KEYS, server: { auth: { mode: 'keys', keys: KEYS, quota: { requests: 5, per: '10s' } } } });
});
afterAll(() => stack.close());

const as = (token: string, path = '/logs?since=5m&limit=1') => stack.app.get(path, { headers: { authorization: `Bearer ${token}` } });

async function expectRateLimited(res: Response, retryAfter: number): Promise<void> {
  expect(res.status).toBe(429);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const body = problemSchema.parse(await res.json());
  expect(body.code).toBe('RATE_LIMITED');
  expect(body.detail).toMatch(/quota of \d+ requests per \w+ is used up/);
  expect(res.headers.get('retry-after')).toBe(String(retryAfter));
  expect(res.headers.get('x-ratelimit-remaining')).toBe('0');
}

describe('caller quotas', () => {
  it('counts down, refuses past the quota with 429 RATE_LIMITED and Retry-After, and spends nothing upstream', async () => {
    clock.set(NOW);
    const remaining: Array<string | null> = [];
    for (let i = 0; i < 3; i++) {
      const res = await as('three-a-minute');
      expect(res.status).toBe(200);
      expect(res.headers.get('x-ratelimit-limit')).toBe('3');
      remaining.push(res.headers.get('x-ratelimit-remaining'));
    }
    expect(remaining).toEqual(['2', '1', '0']);
    stack.sim.resetRequests();
    await expectRateLimited(await as('three-a-minute'), 60);
    await expectRateLimited(await as('three-a-minute', '/traces?since=5m'), 60);
    expect(stack.sim.callCount()).toBe(0);

    clock.advance(20_000);
    await expectRateLimited(await as('three-a-minute'), 40);
  });

  it('keeps keys apart: one key exhausted does not affect another', async () => {
    clock.set(NOW + 30_000);
    await expectRateLimited(await as('three-a-minute'), 30);
    for (let i = 0; i < 3; i++) expect((await as('three-more-a-minute')).status).toBe(200);
    await expectRateLimited(await as('three-more-a-minute'), 60);
  });

  it('recovers when the window has passed', async () => {
    clock.set(NOW + 60_000);
    const res = await as('three-a-minute');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-ratelimit-remaining')).toBe('2');
  });

  it('gives a key without its own quota the [auth] quota', async () => {
    clock.set(NOW + 120_000);
    for (let i = 0; i < 5; i++) expect((await as('default-quota')).headers.get('x-ratelimit-limit')).toBe('5');
    await expectRateLimited(await as('default-quota'), 10);
    clock.advance(10_000);
    expect((await as('default-quota')).status).toBe(200);
  });

  it('never limits a key with quota = "off", nor the public routes', async () => {
    clock.set(NOW + 180_000);
    for (let i = 0; i < 8; i++) {
      const res = await as('no-quota', '/metrics?since=5m&metric=system.cpu.user');
      expect(res.status).toBe(200);
      expect(res.headers.get('x-ratelimit-limit')).toBeNull();
    }
    for (let i = 0; i < 8; i++) {
      const res = await as('three-more-a-minute', '/healthz');
      expect(res.status).toBe(200);
      expect(res.headers.get('x-ratelimit-limit')).toBeNull();
    }
  });
});

describe('caller quotas with auth.mode = "none"', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp({ clock, auth: { mode: 'none', keys: [], quota: { requests: 2, per: '1h' } }, upstream: { send: async () => ({ body: { data: [], meta: {} }, fetchedAt: 0 }) } });
  });
  afterAll(() => app.close());

  it('counts per client address', async () => {
    clock.set(NOW);
    expect((await fetch(`${app.url}/logs`)).status).toBe(200);
    expect((await fetch(`${app.url}/logs`)).status).toBe(200);
    await expectRateLimited(await fetch(`${app.url}/logs`), 3600);
  });
});
