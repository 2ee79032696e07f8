import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.ts';
import { createDatadogClient, createDatadogTransport, type DatadogTransport } from '../../src/datadog/client.ts';
import { AppError } from '../../src/errors.ts';
import { secretValuesOf, type DatadogCredentials } from '../../src/secrets/types.ts';
import { noTelemetry } from '../../src/telemetry/telemetry.ts';
import type { UpstreamRequest } from '../../src/upstream-call.ts';
import type { RetryPolicy } from '../../src/upstream/retry.ts';
import { createRetryingCall, type Credentials } from '../../src/upstream/retrying-call.ts';
import type { CallContext } from '../../src/upstream/types.ts';
import { rejected } from '../helpers/thrown.ts';

/**
 * The client against a scripted loopback server: each test queues the answers the "Datadog"
 * will give, then checks what the client did with them.
 */
type Answer = (req: IncomingMessage, res: ServerResponse) => void;
let answers: Answer[] = [];
const seen: Array<{ path: string; apiKey: string | undefined }> = [];
let server: Server;
let transport: DatadogTransport;

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ path: req.url ?? '', apiKey: req.headers['dd-api-key'] as string | undefined });
    req.resume();
    const answer = answers.shift();
    if (answer) answer(req, res);
    else json(200, { data: [] })(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  transport = createDatadogTransport({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, userAgent: 'test' });
});
afterAll(async () => {
  await transport.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
afterEach(() => {
  answers = [];
  seen.length = 0;
});

function json(status: number, body: unknown, headers: Record<string, string> = {}): Answer {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
}
const reset: Answer = (req) => req.socket.destroy();
const hang: Answer = () => {};

class Keys implements Credentials {
  refreshes = 0;
  private keys: DatadogCredentials;
  private next: DatadogCredentials | undefined;
  constructor(keys: DatadogCredentials, next?: DatadogCredentials) {
    this.keys = keys;
    this.next = next;
  }
  current() {
    return this.keys;
  }
  secretValues() {
    return secretValuesOf(this.keys);
  }
  async refreshAfterAuthFailure() {
    this.refreshes++;
    if (!this.next) return false;
    this.keys = this.next;
    this.next = undefined;
    return true;
  }
}

const request: UpstreamRequest = { family: 'logs', method: 'POST', path: '/api/v2/logs/events/search', body: {} };

function context(timeoutMs = 5_000): CallContext {
  return { signal: AbortSignal.timeout(timeoutMs), deadline: Date.now() + timeoutMs, noCache: false, partition: '', stats: { upstreamCalls: 0 } };
}

function client(keys: Credentials = new Keys({ apiKey: 'key-1', appKey: 'app-1' })) {
  return retryingCall({
    transport,
    credentials: keys,
    clock: systemClock,
    telemetry: noTelemetry,
    retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
  });
}

/** The production chain below the gate: the retrying call over the Datadog client. */
function retryingCall(deps: { transport: DatadogTransport; credentials: Credentials; clock: typeof systemClock; telemetry: typeof noTelemetry; retry: RetryPolicy }) {
  const datadog = createDatadogClient({ transport: deps.transport, secrets: deps.credentials, clock: deps.clock, telemetry: deps.telemetry });
  return createRetryingCall({ client: datadog, credentials: deps.credentials, clock: deps.clock, retry: deps.retry });
}

const failure = (promise: Promise<unknown>) => rejected(promise, AppError);

describe('Datadog client', () => {
  it('sends the keys and returns the parsed body', async () => {
    answers = [json(200, { data: [{ id: 'x' }] })];
    const ctx = context();
    const reply = await client().send(request, ctx);
    expect(reply).toEqual({ body: { data: [{ id: 'x' }] }, fetchedAt: expect.any(Number), bytes: JSON.stringify({ data: [{ id: 'x' }] }).length });
    expect(seen).toEqual([{ path: '/api/v2/logs/events/search', apiKey: 'key-1' }]);
    expect(ctx.stats.upstreamCalls).toBe(1);
  });

  it('retries 5xx and dropped connections, then succeeds', async () => {
    answers = [json(503, 'unavailable'), reset, json(200, { ok: true })];
    const ctx = context();
    expect((await client().send(request, ctx)).body).toEqual({ ok: true });
    expect(seen).toHaveLength(3);
    expect(ctx.stats.upstreamCalls).toBe(3);
  });

  it('gives up after the bounded number of tries with UPSTREAM_ERROR', async () => {
    answers = [json(500, {}), json(502, {}), json(504, {}), json(200, {})];
    const error = await failure(client().send(request, context()));
    expect(error.code).toBe('UPSTREAM_ERROR');
    expect(error.message).toBe('Datadog answered HTTP 504 to the logs query');
    expect(seen).toHaveLength(3);
  });

  it("passes Datadog's message on for a 400, without retrying", async () => {
    answers = [json(400, { errors: ['Invalid query: unexpected token'] })];
    const error = await failure(client().send(request, context()));
    expect(error.code).toBe('UPSTREAM_BAD_QUERY');
    expect(error.status).toBe(400);
    expect(error.message).toContain('Invalid query: unexpected token');
    expect(seen).toHaveLength(1);
  });

  it('reads JSON:API error objects (spans)', async () => {
    answers = [json(422, { errors: [{ title: 'Generic Error', detail: "invalid_argument(Field 'filter.from,to' is invalid)" }] })];
    const error = await failure(client().send({ ...request, family: 'spans' }, context()));
    expect(error.code).toBe('UPSTREAM_BAD_QUERY');
    expect(error.message).toContain("invalid_argument(Field 'filter.from,to' is invalid)");
  });

  it('maps 429 to UPSTREAM_RATE_LIMITED with Retry-After from X-RateLimit-Reset', async () => {
    answers = [json(429, { errors: ['Too many requests'] }, { 'x-ratelimit-limit': '300', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '37', 'x-ratelimit-period': '3600' })];
    const error = await failure(client().send(request, context()));
    expect(error.code).toBe('UPSTREAM_RATE_LIMITED');
    expect(error.retryAfterS).toBe(37);
    expect(seen).toHaveLength(1);
  });

  it('refreshes the keys once on 401/403 and retries with the new ones', async () => {
    answers = [json(403, { errors: ['Forbidden'] }), json(200, { ok: 1 })];
    const keys = new Keys({ apiKey: 'old', appKey: 'a' }, { apiKey: 'new', appKey: 'a' });
    expect((await client(keys).send(request, context())).body).toEqual({ ok: 1 });
    expect(seen.map((s) => s.apiKey)).toEqual(['old', 'new']);
    expect(keys.refreshes).toBe(1);
  });

  it('answers UPSTREAM_AUTH when the keys stay refused', async () => {
    answers = [json(401, {}), json(403, {})];
    const keys = new Keys({ apiKey: 'old', appKey: 'a' }, { apiKey: 'also-bad', appKey: 'a' });
    const error = await failure(client(keys).send(request, context()));
    expect(error.code).toBe('UPSTREAM_AUTH');
    expect(error.status).toBe(502);
    expect(keys.refreshes).toBe(1);
    expect(error.message).not.toContain('old');
    expect(error.message).not.toContain('also-bad');
  });

  it('refuses malformed JSON with UPSTREAM_ERROR, never quoting it', async () => {
    answers = [json(200, '{"data": [ SECRETISH')];
    const error = await failure(client().send(request, context()));
    expect(error.code).toBe('UPSTREAM_ERROR');
    expect(error.message).not.toContain('SECRETISH');
  });

  it('stops at the deadline with UPSTREAM_TIMEOUT', async () => {
    answers = [hang];
    const error = await failure(client().send(request, context(150)));
    expect(error.code).toBe('UPSTREAM_TIMEOUT');
    expect(error.status).toBe(504);
  });

  it('does not retry when the backoff would pass the deadline', async () => {
    answers = [json(503, {}), json(200, {})];
    const slow = retryingCall({
      transport,
      credentials: new Keys({ apiKey: 'k', appKey: 'a' }),
      clock: systemClock,
      telemetry: noTelemetry,
      retry: { maxAttempts: 3, baseDelayMs: 10_000, maxDelayMs: 10_000 },
    });
    const error = await failure(slow.send(request, context(1_000)));
    expect(error.code).toBe('UPSTREAM_ERROR');
    expect(seen).toHaveLength(1);
  });

  it('maps a closed port to UPSTREAM_ERROR', async () => {
    const closed = createDatadogTransport({ baseUrl: 'http://127.0.0.1:1', userAgent: 'test' });
    const c = retryingCall({ transport: closed, credentials: new Keys({ apiKey: 'k', appKey: 'a' }), clock: systemClock, telemetry: noTelemetry, retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 } });
    const error = await failure(c.send(request, context()));
    expect(error.code).toBe('UPSTREAM_ERROR');
    expect(error.message).toMatch(/Could not reach Datadog/);
    await closed.close();
  });
});
