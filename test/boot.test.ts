import { createServer } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_DEMO_KEYS } from '@tinkr/datadog-simulator';
import { sha256Hex } from '../src/auth/keyring.ts';
import { startServer, type Running } from '../src/boot.ts';
import type { Config } from '../src/config/load.ts';
import { capturedLog } from './helpers/captured-log.ts';
import { configFromEnv } from './helpers/config.ts';
import { eventually } from './helpers/eventually.ts';
import { freePort } from './helpers/free-port.ts';
import { ManualClock } from './helpers/manual-clock.ts';
import { scrape, valueOf } from './helpers/prometheus.ts';
import { openSocket, rawGet, readResponses } from './helpers/raw-http.ts';
import { untilReady } from './helpers/ready.ts';
import { startTestSimulator, type TestSimulator } from './helpers/simulator.ts';

/**
 * startServer's lifecycle: the metrics listener starts and stops with the server, close() is
 * idempotent, and the drain is bounded by `shutdown_timeout_ms`.
 */

const TOKEN = 'boot-test-token';

let sim: TestSimulator;
beforeAll(async () => {
  sim = await startTestSimulator();
});
afterAll(() => sim.close());
beforeEach(() => sim.faults.clear());

/** The defaults of an environment-only start, in front of the simulator, on loopback. */
function config(overrides: { metricsPort: number; shutdownTimeoutMs?: number }): Config {
  const loaded = configFromEnv({
    HOST: '127.0.0.1',
    PORT: '0',
    TINKR_METRICS_PORT: String(overrides.metricsPort),
    DD_API_URL: sim.url,
    DD_API_KEY: DEFAULT_DEMO_KEYS.apiKey,
    DD_APP_KEY: DEFAULT_DEMO_KEYS.appKey,
    TINKR_API_KEYS: JSON.stringify([{ hash: sha256Hex(TOKEN), subject: 'boot', roles: ['viewer'] }]),
  });
  return { ...loaded, server: { ...loaded.server, shutdownTimeoutMs: overrides.shutdownTimeoutMs ?? loaded.server.shutdownTimeoutMs } };
}

const get = (running: Running, path: string, init?: RequestInit) =>
  fetch(running.url + path, { ...init, headers: { authorization: `Bearer ${TOKEN}`, ...(init?.headers as Record<string, string>) } });

describe('startServer', () => {
  it('serves Prometheus metrics on TINKR_METRICS_PORT and closes everything, idempotently', async () => {
    const metricsPort = await freePort();
    const { logger, lines } = capturedLog();
    const running = await startServer(config({ metricsPort }), { logger });
    expect(running.metricsUrl).toBe(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(lines().find((l) => l.msg === 'listening')).toMatchObject({ url: running.url, metrics_url: running.metricsUrl, api_url: sim.url });
    await untilReady(running.url);
    expect(valueOf(await scrape(running.metricsUrl!), 'tinkr_datadog_keys_status', { status: 'ok' })).toBe(1);

    expect((await get(running, '/logs?since=5m&limit=2')).status).toBe(200);
    const samples = await scrape(running.metricsUrl!);
    expect(valueOf(samples, 'tinkr_http_requests_total', { route: '/logs', status: '200' })).toBe(1);
    expect(valueOf(samples, 'tinkr_upstream_requests_total', { family: 'logs', outcome: '200' })).toBe(1);
    // The API's own /metrics is the Datadog metrics route, not the exposition.
    expect((await get(running, '/metrics?metric=system.cpu.user&since=1h')).headers.get('content-type')).toMatch(/application\/json/);

    await Promise.all([running.close(), running.close()]);
    await running.close();
    await expect(fetch(running.metricsUrl!)).rejects.toThrow();
    await expect(fetch(`${running.url}/healthz`)).rejects.toThrow();
  });

  it('starts no metrics listener when TINKR_METRICS_PORT is 0', async () => {
    const { logger } = capturedLog();
    const running = await startServer(config({ metricsPort: 0 }), { logger });
    expect(running.metricsUrl).toBeUndefined();
    expect((await fetch(`${running.url}/healthz`)).status).toBe(200);
    await running.close();
  });

  it('fails to start, releasing the API port, when the metrics port is taken', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as { port: number };
    const { logger } = capturedLog();
    await expect(startServer(config({ metricsPort: port }), { logger })).rejects.toMatchObject({
      code: 'EADDRINUSE',
      message: `the metrics port ${port} (TINKR_METRICS_PORT) is not available (EADDRINUSE); set TINKR_METRICS_PORT to a free port, or to 0 to turn the metrics listener off`,
    });
    await new Promise((resolve) => taken.close(resolve));
  });

  it('drains in-flight requests, answering /readyz 503 meanwhile, and cuts them at shutdown_timeout_ms', async () => {
    const { logger, lines } = capturedLog();
    // The server's clock is the test's: the drain's bound passes when the test says, so the
    // quick request finishes within it however slow the machine is.
    const clock = new ManualClock(Date.now());
    const running = await startServer(config({ metricsPort: 0, shutdownTimeoutMs: 1_500 }), { logger, clock });
    await untilReady(running.url);
    const { port } = new URL(running.url);
    // One request finishes within the bound, one would not.
    sim.faults.add({ kind: 'latency', delayMs: 100, endpoint: 'logs' });
    sim.faults.add({ kind: 'latency', delayMs: 60_000, endpoint: 'logs' });
    sim.resetRequests();
    const quick = await openSocket(Number(port));
    const quickAnswers = readResponses(quick);
    quick.write(rawGet('/logs?since=5m&limit=2', TOKEN));
    await eventually(() => sim.callCount('logs') === 1, 'the first request is upstream');
    const slow = get(running, '/logs?since=5m&limit=3').then(
      (res) => res.status,
      (error: unknown) => error,
    );
    await eventually(() => sim.callCount('logs') === 2, 'the second request is upstream');

    let closed = false;
    const clockAtClose = clock.now();
    const closing = running.close().then(() => {
      closed = true;
    });
    quick.write(rawGet('/readyz'));
    const [first, readyz] = await quickAnswers;
    expect(first!.status).toBe(200);
    expect(readyz!.status).toBe(503);
    expect(JSON.parse(readyz!.body)).toMatchObject({ code: 'NOT_READY', detail: expect.stringMatching(/shutting down/) });
    expect(closed).toBe(false);

    // Time passes on the server's clock until the drain gives up on the slow request.
    await eventually(() => {
      if (!closed) clock.advance(100);
      return closed;
    }, 'the drain to end at its bound');
    await closing;
    expect(clock.now() - clockAtClose).toBeGreaterThanOrEqual(1_500);
    expect(await slow).toBeInstanceOf(Error);
    const warning = lines().find((l) => l.msg === 'shutdown timeout reached: closing the connections still open');
    expect(warning).toMatchObject({ level: 'warn', timeout_ms: 1_500, open_connections: 1 });
  });
});
