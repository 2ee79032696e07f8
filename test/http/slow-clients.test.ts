import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionTimeouts, DEFAULT_BODY_TIMEOUT_MS, DEFAULT_KEEP_ALIVE_TIMEOUT_MS } from '../../src/http/limits.ts';
import { createLogger } from '../../src/logging.ts';
import { problemSchema } from '../../src/schemas/common.ts';
import { recordingUpstream, startApp, TEST_TOKEN, type TestApp } from '../helpers/app.ts';
import { eventually } from '../helpers/eventually.ts';
import { trickle } from '../helpers/raw-http.ts';
import { openSse } from '../helpers/sse.ts';

/**
 * Slow clients (docs/operations.md#slow-clients): a request whose head and body have not fully arrived within
 * `server.body_timeout_ms` gets a 400 problem and its connection closed, through the real server
 * on a real socket, byte by byte. Nothing here measures time: each test asserts what happened.
 */

const { upstream, sent } = recordingUpstream(() => ({ data: [], meta: {} }));
const logText: string[] = [];
const logger = createLogger(
  'info',
  new Writable({
    write(chunk, _enc, done) {
      logText.push(String(chunk));
      done();
    },
  }),
);
const logLines = () =>
  logText
    .join('')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** Short, so a trickle of one byte every 200 ms outlives it after a few bytes. */
const SHORT_TIMEOUT_MS = 1_000;
let strict: TestApp;
let patient: TestApp;
beforeAll(async () => {
  // A live tail that writes a keep-alive comment every 50 ms: a long answer on the same server.
  strict = await startApp({ upstream, logger, bodyTimeoutMs: SHORT_TIMEOUT_MS, tail: { keepAliveMs: 50 } });
  // Far longer than the slowest trickle below can take, however loaded the machine.
  patient = await startApp({ upstream, logger, bodyTimeoutMs: 120_000 });
});
afterAll(async () => {
  await strict.close();
  await patient.close();
});

const body = JSON.stringify({ service: 'checkout', start: '2026-11-25T03:00:00+00:00', end: '2026-11-25T04:00:00+00:00', limit: 5 });
const head = (length: number, requestId: string) =>
  'POST /api/v1/logs HTTP/1.1\r\nHost: tinkr\r\n' +
  `Authorization: Bearer ${TEST_TOKEN}\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\nx-request-id: ${requestId}\r\n\r\n`;
const port = (app: TestApp) => Number(new URL(app.url).port);

function problemIn(raw: string) {
  expect(raw).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
  expect(raw).toMatch(/\r\ncontent-type: application\/problem\+json/);
  expect(raw).toMatch(/\r\nx-request-id: \S+/);
  return problemSchema.parse(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)));
}

describe('slow clients', () => {
  it('closes a connection whose body trickles in past body_timeout_ms, before any route runs', async () => {
    const before = sent.length;
    const { raw, bytesSent } = await trickle(port(strict), head(Buffer.byteLength(body), 'trickled-body'), body, 200);
    expect(bytesSent).toBeLessThan(Buffer.byteLength(body));
    const problem = problemIn(raw);
    expect(problem.code).toBe('BAD_REQUEST');
    expect(problem.errors).toEqual([{ path: 'request', message: expect.stringMatching(/did not fully arrive in time/) }]);
    expect(sent.length).toBe(before);

    // Its log line says the server cut it off, not that the caller hung up.
    await eventually(() => logLines().some((l) => l.req_id === 'trickled-body'), 'the request is logged');
    expect(logLines().find((l) => l.req_id === 'trickled-body')).toMatchObject({ msg: 'request', status: 400, aborted: 'request_timeout', upstream_calls: 0 });

    // The same server still serves a request that arrives at once.
    const res = await strict.post('/api/v1/logs', JSON.parse(body));
    expect(res.status).toBe(200);
    expect(sent.length).toBe(before + 1);
  });

  it('closes a connection whose head trickles in past the headers timeout', async () => {
    const headers = 'x-slow: ' + 'a'.repeat(200) + '\r\n\r\n';
    const { raw, bytesSent } = await trickle(port(strict), 'GET /healthz HTTP/1.1\r\nHost: tinkr\r\n', headers, 200);
    expect(bytesSent).toBeLessThan(headers.length);
    expect(problemIn(raw).errors?.[0]?.path).toBe('request');
  });

  it('serves a slow body that arrives within body_timeout_ms', async () => {
    const before = sent.length;
    // A byte every 10 ms: over a second in all, across Node's timeout checks (every second).
    const { raw } = await trickle(port(patient), head(Buffer.byteLength(body), 'slow-in-time'), body, 10);
    expect(raw).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4))).toEqual({ entries: [] });
    expect(sent.length).toBe(before + 1);
  });

  it('never cuts a long answer that keeps writing (a live tail), however long past body_timeout_ms', async () => {
    const client = await openSse(`${strict.url}/logs/tail`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
    try {
      expect(client.status).toBe(200);
      // 60 comments 50 ms apart take at least 3 s (timers never fire early): three body timeouts.
      await client.until((c) => c.comments.length >= 60, '60 keep-alive comments arrived', 30_000);
      expect(client.ended).toBe(false);
    } finally {
      client.close();
    }
  });

  it('keeps Node within its own rule (headers timeout ≤ request timeout) and never cuts an answer', () => {
    for (const ms of [1_000, DEFAULT_BODY_TIMEOUT_MS, 600_000]) {
      const t = connectionTimeouts(ms);
      expect(t.requestTimeout).toBe(ms);
      expect(t.headersTimeout).toBeLessThanOrEqual(t.requestTimeout);
      expect(t.keepAliveTimeout).toBeGreaterThan(60_000);
    }
    // No inactivity timeout on sockets: a long answer (a live tail) must not be cut.
    expect(strict.app.server.timeout).toBe(0);
    expect(strict.app.server.requestTimeout).toBe(SHORT_TIMEOUT_MS);
    // What the running server holds, not only what the function returns: headers within the
    // body's time, and an idle keep-alive connection closed after a bounded wait.
    expect(strict.app.server.headersTimeout).toBe(SHORT_TIMEOUT_MS);
    expect(strict.app.server.keepAliveTimeout).toBe(DEFAULT_KEEP_ALIVE_TIMEOUT_MS);
  });
});
