import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.ts';
import { recordingUpstream, startApp, type TestApp } from '../helpers/app.ts';

/** The HTTP edge: authentication, validation and the problem format. Nothing here reaches Datadog. */
const { upstream, sent } = recordingUpstream(() => {
  throw new AppError('UPSTREAM_ERROR', 'this test has no Datadog');
});

let app: TestApp;
let notReady: TestApp;
beforeAll(async () => {
  app = await startApp({ upstream });
  notReady = await startApp({
    upstream,
    readiness: () => ({ ready: false, reason: 'the server is shutting down', secrets: { source: 'env', loaded_at: new Date(0).toISOString(), age_s: 1, refreshes: 0 }, keys: { status: 'ok', site: 'datadoghq.com' } }),
  });
});
afterAll(async () => {
  await app.close();
  await notReady.close();
});

async function problem(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const body: any = await res.json();
  expect(body).toMatchObject({ type: 'about:blank', status, code });
  expect(typeof body.title).toBe('string');
  expect(typeof body.detail).toBe('string');
  expect(body.request_id).toBe(res.headers.get('x-request-id'));
  return body as { detail: string; errors?: Array<{ path: string; message: string }> };
}

describe('authentication', () => {
  it.each([
    ['no header', {}],
    ['an unknown token', { authorization: 'Bearer not-a-key' }],
    ['another scheme', { authorization: 'Basic dGVzdDp0ZXN0' }],
    ['an empty bearer', { authorization: 'Bearer ' }],
  ])('answers 401 UNAUTHENTICATED to %s', async (_what, headers) => {
    const res = await fetch(`${app.url}/logs`, { headers });
    await problem(res, 401, 'UNAUTHENTICATED');
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('applies to the Tinkr routes too', async () => {
    const res = await fetch(`${app.url}/api/v1/logs`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    await problem(res, 401, 'UNAUTHENTICATED');
  });

  it('ignores any token on the public routes', async () => {
    for (const path of ['/health', '/healthz', '/readyz', '/openapi.json']) {
      const res = await fetch(app.url + path, { headers: { authorization: 'Bearer whatever' } });
      expect(res.status, path).toBe(200);
    }
    const health = await (await fetch(`${app.url}/health`)).json();
    expect(health).toEqual({ status: 'ok', version: '0.0.0-test', active_profile: 'test', profiles: { test: 'datadog' } });
  });
});

describe('health and readiness', () => {
  it('reports the secrets when ready, and NOT_READY otherwise', async () => {
    expect(await (await fetch(`${app.url}/readyz`)).json()).toMatchObject({ status: 'ready', secrets: { source: 'test' } });
    const body = await problem(await fetch(`${notReady.url}/readyz`), 503, 'NOT_READY');
    expect(body.detail).toMatch(/shutting down/);
    expect((await fetch(`${notReady.url}/healthz`)).status).toBe(200);
  });
});

describe('request ids', () => {
  it('keeps a sane incoming x-request-id and replaces anything else', async () => {
    const kept = await fetch(`${app.url}/healthz`, { headers: { 'x-request-id': 'abc-123' } });
    expect(kept.headers.get('x-request-id')).toBe('abc-123');
    const replaced = await fetch(`${app.url}/healthz`, { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('bad input gets a clear 400 and nothing else happens', () => {
  it.each([
    ['/logs?from=2026-11-25T04:00:00', 'from', /no UTC offset/],
    ['/logs?since=1h&from=now-2h', 'since', /do not combine/],
    ['/logs?from=now&to=now-1h', 'from', /before/],
    ['/logs?since=400d', 'from', /longer than this profile allows/],
    ['/logs?limit=5001', 'limit', /5000/],
    ['/logs?limit=0', 'limit', /1/],
    ['/logs?limit=ten', 'limit', /number/],
    ['/logs?level=loud', 'level.0', /debug/],
    ['/logs?sort=newest', 'sort', /desc/],
    ['/logs?storage_tier=cold', 'storage_tier', /indexes/],
    ['/logs?servce=typo', 'querystring', /servce/],
    ['/logs?query=x)%20OR%20(service:other', 'query', /without a matching/],
    ['/logs?query=%22open', 'query', /unclosed double quote/],
    ['/logs?cursor=forged', 'cursor', /not a cursor issued/],
    ['/logs?service=a%00b', 'service.0', /control characters/],
    ['/traces?status=failed', 'status', /ok/],
    ['/traces?limit=9000', 'limit', /5000/],
    ['/traces/not-an-id', 'trace_id', /128-bit id/],
    ['/traces/99999999999999999999', 'trace_id', /64-bit/],
    ['/metrics', 'metric', /either metric or query/],
    ['/metrics?metric=a&query=avg:a{*}', 'query', /not both/],
    ['/metrics?metric=9bad', 'metric', /metric name/],
    ['/metrics?metric=a&service=x,y', 'service', /letters/],
    ['/metrics?metric=a&group_by=ho%20st', 'group_by.0', /tag key/],
    ['/metrics?query=avg:a{*}&service=x', 'query', /raw query/],
    // A bad time and a missing metric are reported together: the schema reads both.
    ['/metrics?from=soon', 'metric', /either metric or query/],
    ['/metrics?from=soon', 'from', /^from must be ISO 8601 with an offset/],
    ['/logs?from=2026-02-30T04:00:00Z', 'from', /^from is not a real date-time/],
  ])('%s → 400 on %s', async (path, field, message) => {
    const before = sent.length;
    const body = await problem(await app.get(path), 400, 'BAD_REQUEST');
    const error = body.errors?.find((e) => e.path === field);
    expect(error, JSON.stringify(body.errors)).toBeDefined();
    expect(error!.message).toMatch(message);
    expect(sent.length).toBe(before);
  });

  it('reads a repeated list parameter as one list', async () => {
    const before = sent.length;
    const res = await app.get('/logs?service=a&service=b');
    expect(res.status).toBe(502);
    expect(sent.length).toBe(before + 1);
    expect(JSON.stringify(sent.at(-1)?.body)).toContain('service:(\\"a\\" OR \\"b\\")');
  });

  it('answers 400 to a body that is not JSON and 413 to one that is too large', async () => {
    const notJson = await app.post('/api/v1/logs', undefined, { body: '{not json' } as RequestInit);
    await problem(notJson, 400, 'BAD_REQUEST');
    const huge = await app.post('/api/v1/logs', { service: 'a', start: 'now-1h', end: 'now', padding: 'x'.repeat(100_000) });
    await problem(huge, 413, 'PAYLOAD_TOO_LARGE');
    const missing = await problem(await app.post('/api/v1/logs', { query: '*' }), 400, 'BAD_REQUEST');
    expect(missing.errors?.map((e) => e.path)).toEqual(expect.arrayContaining(['body.service', 'body.start', 'body.end']));
  });

  it('answers unknown routes with a 404 problem', async () => {
    await problem(await app.get('/nope'), 404, 'NOT_FOUND');
    await problem(await fetch(`${app.url}/nope`), 404, 'NOT_FOUND');
  });
});
