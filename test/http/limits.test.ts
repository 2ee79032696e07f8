import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_HEADER_BYTES, MAX_QUERY_STRING_BYTES } from '../../src/http/limits.ts';
import { MAX_LIST_ITEMS, problemSchema } from '../../src/schemas/common.ts';
import { MAX_TAG_FILTERS } from '../../src/schemas/tinkr.ts';
import { BODY_LIMIT_BYTES } from '../../src/server.ts';
import { recordingUpstream, startApp, TEST_TOKEN, type TestApp } from '../helpers/app.ts';
import { openSocket, readResponses } from '../helpers/raw-http.ts';

/** Every request limit, each with its clear problem answer and no upstream call. */
const { upstream, sent } = recordingUpstream();

let app: TestApp;
beforeAll(async () => {
  app = await startApp({ upstream });
});
afterAll(() => app.close());

async function problem(res: Response, status: number) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  return problemSchema.parse(await res.json());
}

async function badRequestOn(res: Response, path: string, message: RegExp): Promise<void> {
  const body = await problem(res, 400);
  expect(body.code).toBe('BAD_REQUEST');
  const error = body.errors?.find((e) => e.path === path);
  expect(error, JSON.stringify(body.errors)).toBeDefined();
  expect(error!.message).toMatch(message);
}

const many = (n: number, item: (i: number) => string) => Array.from({ length: n }, (_, i) => item(i)).join(',');
const window = { start: '2026-11-25T03:00:00+00:00', end: '2026-11-25T04:00:00+00:00' };

describe('request limits', () => {
  it(`refuses a query string over ${MAX_QUERY_STRING_BYTES} bytes with a 400 on querystring`, async () => {
    const before = sent.length;
    await badRequestOn(await app.get(`/logs?query=${'a'.repeat(MAX_QUERY_STRING_BYTES)}`), 'querystring', /longer than 16384 bytes/);
    // Just under the cap, the same parameter is judged on its own rules (4,000 characters).
    await badRequestOn(await app.get(`/logs?query=${'a'.repeat(MAX_QUERY_STRING_BYTES - 10)}`), 'query', /4000/);
    expect(sent.length).toBe(before);
  });

  it(`refuses a request head over ${MAX_HEADER_BYTES} bytes with a 400 problem on headers`, async () => {
    const res = await app.get('/logs', { headers: { 'x-padding': 'a'.repeat(MAX_HEADER_BYTES) } });
    const body = await problem(res, 400);
    expect(body.errors).toEqual([{ path: 'headers', message: expect.stringMatching(/larger than 32768 bytes/) }]);
    expect(res.headers.get('x-request-id')).toBe(body.request_id);
    // The server keeps serving.
    expect((await app.get('/healthz')).status).toBe(200);
  });

  it('answers a request that is not HTTP with a 400 problem', async () => {
    const { port } = new URL(app.url);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => socket.write('GET /logs HTTP/1.1\r\nHost: x\r\nbroken header line\r\n\r\n'));
      let data = '';
      socket.on('data', (chunk) => (data += chunk));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(raw).toMatch(/content-type: application\/problem\+json/);
    const body = problemSchema.parse(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)));
    expect(body.errors?.[0]?.path).toBe('request');
  });

  it.each([
    ['GET', '/logs?since=5m'],
    ['GET', '/healthz'],
    ['POST', '/api/v1/logs'],
    ['GET', '/no-such-route'],
  ])('answers an Expect other than 100-continue on %s %s with a 400 problem on headers.expect', async (method, path) => {
    const before = sent.length;
    const socket = await openSocket(Number(new URL(app.url).port));
    const answers = readResponses(socket);
    socket.write(
      `${method} ${path} HTTP/1.1\r\nHost: tinkr\r\nAuthorization: Bearer ${TEST_TOKEN}\r\nExpect: 200-ok\r\nx-request-id: expect-${method}\r\n` +
        (method === 'POST' ? 'content-type: application/json\r\ncontent-length: 2\r\n\r\n{}' : '\r\n'),
    );
    const [answer, ...more] = await answers;
    expect(more).toEqual([]);
    expect(answer!.status).toBe(400);
    expect(answer!.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(answer!.headers['x-request-id']).toBe(`expect-${method}`);
    const body = problemSchema.parse(JSON.parse(answer!.body));
    expect(body).toMatchObject({ code: 'BAD_REQUEST', request_id: `expect-${method}` });
    expect(body.errors).toEqual([{ path: 'headers.expect', message: expect.stringMatching(/100-continue/) }]);
    expect(sent.length).toBe(before);
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
  });

  it('still serves Expect: 100-continue', async () => {
    const socket = await openSocket(Number(new URL(app.url).port));
    const answers = readResponses(socket);
    const body = JSON.stringify({ service: 'a', ...window });
    socket.write(
      `POST /api/v1/logs HTTP/1.1\r\nHost: tinkr\r\nAuthorization: Bearer ${TEST_TOKEN}\r\nExpect: 100-continue\r\nconnection: close\r\n` +
        `content-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`,
    );
    await new Promise((resolve) => socket.once('data', resolve));
    socket.write(body);
    expect((await answers).map((a) => a.status)).toEqual([100, 200]);
  });

  it('refuses a path segment longer than the router accepts with a 400 problem on path', async () => {
    await badRequestOn(await app.get(`/traces/${'9'.repeat(500)}`), 'path', /longer than the server accepts/);
    await badRequestOn(await app.get('/traces/%E0%A4%A'), 'path', /not valid/);
  });

  it.each([
    ['service', `/logs?service=${many(MAX_LIST_ITEMS + 1, (i) => `s${i}`)}`],
    ['level', `/logs?level=${many(MAX_LIST_ITEMS + 1, () => 'error')}`],
    ['indexes', `/logs?indexes=${many(MAX_LIST_ITEMS + 1, (i) => `i${i}`)}`],
    ['service', `/traces?service=${many(MAX_LIST_ITEMS + 1, (i) => `s${i}`)}`],
    ['group_by', `/metrics?metric=a&group_by=${many(MAX_LIST_ITEMS + 1, (i) => `k${i}`)}`],
    ['service', `/logs?${Array.from({ length: MAX_LIST_ITEMS + 1 }, (_, i) => `service=s${i}`).join('&')}`],
  ])(`refuses more than ${MAX_LIST_ITEMS} items in %s: 400`, async (param, path) => {
    await badRequestOn(await app.get(path), param, /at most 50 items/);
  });

  it.each([
    ['/logs?limit=0', 'limit', /limit must be 1–5000/],
    ['/logs?limit=5001', 'limit', /5000/],
    ['/logs?limit=1.5', 'limit', /whole number/],
    ['/traces?limit=5001', 'limit', /5000/],
    ['/logs?limit=1&limit=2', 'limit', /number/i],
  ])('bounds limit: %s → 400', async (path, param, message) => {
    await badRequestOn(await app.get(path), param, message);
  });

  it('bounds limit and tags on the Tinkr routes', async () => {
    await badRequestOn(await app.post('/api/v1/logs', { service: 'a', limit: 5001, ...window }), 'body.limit', /5000/);
    await badRequestOn(await app.post('/api/v1/traces', { service: 'a', limit: 101 }), 'body.limit', /100/);
    const tags = Object.fromEntries(Array.from({ length: MAX_TAG_FILTERS + 1 }, (_, i) => [`k${i}`, 'v']));
    await badRequestOn(await app.post('/api/v1/traces', { service: 'a', tags }), 'body.tags', /at most 20 tags/);
  });

  it(`refuses a body over ${BODY_LIMIT_BYTES} bytes with 413 PAYLOAD_TOO_LARGE on every Tinkr route`, async () => {
    for (const path of ['/api/v1/logs', '/api/v1/metrics', '/api/v1/traces']) {
      const body = await problem(await app.post(path, { service: 'a', padding: 'x'.repeat(BODY_LIMIT_BYTES) }), 413);
      expect(body.code).toBe('PAYLOAD_TOO_LARGE');
    }
  });
});
