import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/auth/keyring.ts';
import type { Upstream } from '../../src/upstream/types.ts';
import { startApp, TEST_TOKEN, type TestApp } from '../helpers/app.ts';

/** CORS for the configured exact origins only; nothing at all when none are configured. */
const ALLOWED = 'https://grafana.example.com';
const upstream: Upstream = { send: async () => ({ body: { data: [], meta: {} }, cache: 'miss', fetchedAt: 0 }) };
const KEYS = [
  { hash: sha256Hex(TEST_TOKEN), subject: 'tester', roles: ['viewer' as const], quota: 'off' as const },
  { hash: sha256Hex('one-a-day'), subject: 'limited', roles: ['viewer' as const], quota: { requests: 1, per: '1d' } },
];

let withCors: TestApp;
let without: TestApp;
beforeAll(async () => {
  withCors = await startApp({ upstream, corsOrigins: [ALLOWED, 'http://localhost:3000'], auth: { mode: 'keys', keys: KEYS } });
  without = await startApp({ upstream, auth: { mode: 'keys', keys: KEYS } });
});
afterAll(async () => {
  await withCors.close();
  await without.close();
});

const corsHeaders = (res: Response) => [...res.headers.keys()].filter((h) => h.startsWith('access-control-'));
const preflight = (app: TestApp, origin: string, method = 'GET', headers = 'authorization,cache-control') =>
  fetch(`${app.url}/logs`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': headers } });

describe('CORS with configured origins', () => {
  it('answers an allowed origin, exposing our headers to the browser', async () => {
    const res = await withCors.get('/logs', { headers: { origin: ALLOWED } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    const exposed = res.headers.get('access-control-expose-headers')!.split(/,\s*/);
    expect(exposed).toEqual(expect.arrayContaining(['x-request-id', 'x-tinkr-cache', 'age', 'retry-after']));
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(res.headers.get('vary')).toMatch(/origin/i);
  });

  it('answers the preflight of an allowed origin without a token', async () => {
    const res = await preflight(withCors, ALLOWED);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(res.headers.get('access-control-allow-methods')).toMatch(/GET/);
    const allowed = res.headers.get('access-control-allow-headers')!.toLowerCase().split(/,\s*/);
    expect(allowed).toEqual(expect.arrayContaining(['authorization', 'cache-control', 'last-event-id']));
    expect(res.headers.get('access-control-max-age')).toBe('600');

    const post = await fetch(`${withCors.url}/api/v1/logs`, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    expect(post.status).toBe(204);
    expect(post.headers.get('access-control-allow-methods')).toMatch(/POST/);
  });

  it('lets the browser read error answers too (401 and 429 problems carry the origin)', async () => {
    const unauthenticated = await fetch(`${withCors.url}/logs`, { headers: { origin: ALLOWED } });
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    const headers = { origin: ALLOWED, authorization: 'Bearer one-a-day' };
    expect((await fetch(`${withCors.url}/logs`, { headers })).status).toBe(200);
    const limited = await fetch(`${withCors.url}/logs`, { headers });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
  });

  it.each([
    ['another site', 'https://evil.example.com'],
    ['a suffix trick', 'https://grafana.example.com.evil.com'],
    ['another scheme', 'http://grafana.example.com'],
    ['another port', 'https://grafana.example.com:8443'],
    ['upper case', 'https://GRAFANA.example.com'],
    ['the null origin', 'null'],
  ])('refuses %s: no Access-Control-* header at all', async (_what, origin) => {
    const res = await withCors.get('/logs', { headers: { origin } });
    expect(res.status).toBe(200);
    expect(corsHeaders(res)).toEqual([]);
    const pre = await preflight(withCors, origin);
    expect(pre.status).toBe(404);
    expect(pre.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(corsHeaders(pre)).toEqual([]);
  });

  it('adds nothing for a caller that sends no Origin (curl, servers)', async () => {
    expect(corsHeaders(await withCors.get('/logs'))).toEqual([]);
  });
});

describe('CORS with no origins configured', () => {
  it('sends no Access-Control-* header, and a preflight is an unknown route', async () => {
    const res = await without.get('/logs', { headers: { origin: ALLOWED } });
    expect(res.status).toBe(200);
    expect(corsHeaders(res)).toEqual([]);
    const pre = await preflight(without, ALLOWED);
    expect(pre.status).toBe(404);
    expect(corsHeaders(pre)).toEqual([]);
    expect(pre.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});
