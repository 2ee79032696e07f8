import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_LOOKBACK_MS } from '../../src/tail/options.ts';
import { BOUND_RETRY_AFTER_S } from '../../src/tail/hub.ts';
import { createPrometheusTelemetry } from '../../src/telemetry/prometheus.ts';
import { TEST_TOKEN } from '../helpers/app.ts';
import { eventually } from '../helpers/eventually.ts';
import { openSocket, rawGet } from '../helpers/raw-http.ts';
import { sharedStack } from '../helpers/stack.ts';
import { tailHarness } from '../helpers/tail.ts';

/**
 * The live tail's bounds through the real server: streams per process and subscribers per
 * stream (503 NOT_READY with Retry-After past them, before any stream starts), the maximum
 * lifetime of a subscription (ended with `event: end`, resumable with Last-Event-ID), and
 * shutdown (every stream ended, so closing the server does not wait on them).
 */
const LIFETIME_MS = 60_000;

const telemetry = createPrometheusTelemetry({ version: 'test', defaultMetrics: false });
const { clock, stack } = sharedStack({
  telemetry,
  simulator: { rateLimits: { logs: { limit: 1_000_000, periodS: 3_600 } } },
  server: { tail: { maxStreams: 1, maxSubscribersPerStream: 2, maxLifetimeMs: LIFETIME_MS } },
});
const tail = tailHarness(() => stack, clock, telemetry);

describe('GET /logs/tail bounds', () => {
  afterEach(() => tail.closeAll());

  it('refuses subscribers past the bounds with 503 NOT_READY and Retry-After, before any stream', async () => {
    const [a, b] = [await tail.subscribe('?service=checkout'), await tail.subscribe('?service=checkout')];
    expect([a.status, b.status]).toEqual([200, 200]);
    stack.sim.resetRequests();

    const third = await tail.subscribe('?service=checkout');
    expect(third.status).toBe(503);
    expect(third.headers.get('retry-after')).toBe(String(BOUND_RETRY_AFTER_S));
    expect(third.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(third.text)).toMatchObject({ code: 'NOT_READY', detail: expect.stringContaining('2 subscribers') });

    const otherQuery = await tail.subscribe('?service=ledger');
    expect(otherQuery.status).toBe(503);
    expect(JSON.parse(otherQuery.text)).toMatchObject({ code: 'NOT_READY', detail: expect.stringContaining('1 different queries') });
    expect(stack.sim.callCount('logs')).toBe(0);

    // A slot freed can be taken again.
    a.close();
    await eventually(async () => (await tail.metric('tinkr_tail_subscribers')) === 1, 'the server lets one go');
    expect((await tail.subscribe('?service=checkout')).status).toBe(200);
  });

  it(`ends a subscription after its lifetime with event: end; Last-Event-ID then resumes without a gap`, async () => {
    const query = 'service:payments-api';
    const startedAt = clock.now();
    const before = new Set(tail.visible(query, startedAt - DEFAULT_LOOKBACK_MS));
    const client = await tail.subscribe('?service=payments-api');
    while (clock.now() < startedAt + LIFETIME_MS - 2_000) await tail.step();
    expect(client.ended).toBe(false);
    // The lifetime ends with this interval; its only subscriber gone, the stream polls no more.
    clock.advance(2_000);
    await client.until((c) => c.ended, 'the subscription ends');
    expect(client.data('end')).toEqual([{ reason: 'lifetime', message: expect.stringContaining('Last-Event-ID') }]);
    expect(client.events.at(-1)!.event).toBe('end');

    // As an EventSource does: reconnect with the last id (after its `retry`); the stream kept
    // its replay buffer, and its poll, stopped meanwhile, picks up where it left off.
    expect(client.retry).toBe(2_000);
    clock.advance(client.retry!);
    const polls = await tail.metric('tinkr_tail_polls_total');
    const resumed = await tail.subscribe('?service=payments-api', { 'last-event-id': client.lastEventId! });
    await eventually(async () => (await tail.metric('tinkr_tail_polls_total')) > polls, 'the stream polls again at once');
    await tail.step();
    const expected = tail.arrivedSince(query, startedAt - DEFAULT_LOOKBACK_MS, before);
    await resumed.until((c) => client.logIds().length + c.logIds().length === expected.size, 'every log');
    const together = [...client.logIds(), ...resumed.logIds()];
    expect(together).toHaveLength(expected.size);
    expect(new Set(together)).toEqual(expected);
  });

  it('closes the connection with the subscription: an ended tail leaves no keep-alive socket behind', async () => {
    const socket = await openSocket(Number(new URL(stack.app.url).port));
    let text = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write(rawGet('/logs/tail?service=ledger', TEST_TOKEN));
    await eventually(() => text.includes('retry:'), 'the stream opens');
    expect(text).toMatch(/\r\nconnection: close\r\n/i);
    const startedAt = clock.now();
    while (clock.now() < startedAt + LIFETIME_MS - 2_000) await tail.step();
    expect(text).not.toContain('event: end');
    clock.advance(2_000);
    await eventually(() => text.includes('event: end'), 'the lifetime ends the subscription');
    // What a keep-alive client does next: another request on the same connection. Nobody answers
    // it: the server has closed the connection (kept alive, it would answer 200 and idle on).
    socket.write(rawGet('/healthz'));
    await closed;
    expect(text.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 200']);
  });
});

describe('GET /logs/tail at shutdown', () => {
  it('ends every open stream with event: end, so closing the server does not wait on them', async () => {
    const clients = [await tail.subscribe('?service=checkout'), await tail.subscribe('?service=checkout')];
    await tail.step();
    await stack.app.close();
    for (const client of clients) {
      await client.until((c) => c.ended, 'the stream ends');
      expect(client.data('end')).toEqual([{ reason: 'shutdown', message: expect.stringContaining('shutting down') }]);
    }
    expect(await tail.metric('tinkr_tail_streams')).toBe(0);
    expect(await tail.metric('tinkr_tail_subscribers')).toBe(0);
  });
});
