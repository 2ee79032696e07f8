import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHIPPED_RUNTIME_ENV } from '../bench/lib/runtime.ts';
import { envOnlyStart } from './helpers/cli.ts';
import { freePort } from './helpers/free-port.ts';
import { scrape, valueOf } from './helpers/prometheus.ts';
import { startTestSimulator, type TestSimulator } from './helpers/simulator.ts';

/**
 * A burst against the running server (its own process, env-only boot, in front of the
 * simulator): every request answered 2xx, none 5xx, and the heap back near its baseline after
 * a forced GC. Memory figures are printed; the only memory assertion is a generous ratio that
 * a real leak (every request retained) would break. No timing assertions.
 */

const CHILD = fileURLToPath(new URL('./fixtures/server/memory-child.ts', import.meta.url));
const TOKEN = 'burst-test-token';
const BURST = 2_000;
const CONCURRENCY = 100;
const WARMUP = 200;
/** Retaining every answer (~10 kB each) would add ~20 MB to a ~30 MB heap, well past this ratio. */
const MAX_HEAP_GROWTH_RATIO = 1.5;
/** The bound on RSS with the defaults, whatever the mix of queries (docs/budget-and-caching.md). */
const MAX_RSS_BYTES = 384 * 1024 * 1024;
/** A mix of every query route and the liveness probe; each query costs one upstream call. */
const PATHS = [
  '/logs?service=checkout&since=15m&limit=20',
  '/metrics?metric=trace.web.request.hits&service=checkout&since=1h',
  '/traces?service=checkout&since=15m&limit=5',
  '/healthz',
];

interface Memory {
  heapUsed: number;
  rss: number;
  external: number;
  arrayBuffers: number;
}

let sim: TestSimulator;
let child: ChildProcess;
let url: string;
let metricsUrl: string;
let scratch: string;


async function memory(): Promise<Memory> {
  child.send({ type: 'memory' });
  for (;;) {
    const [message] = (await once(child, 'message')) as [{ type: string } & Memory];
    if (message.type === 'memory') return message;
  }
}

/** `total` GETs over `concurrency` connections; returns the count per status. */
async function burst(total: number, concurrency: number): Promise<Map<number, number>> {
  const pool = new Pool(url, { connections: concurrency });
  const statuses = new Map<number, number>();
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const path = PATHS[next++ % PATHS.length]!;
      const res = await pool.request({ method: 'GET', path, headers: { authorization: `Bearer ${TOKEN}` } });
      await res.body.dump();
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    await pool.close();
  }
  return statuses;
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

beforeAll(async () => {
  // Budgets far above the burst: this measures the server, not the simulator's 429s.
  const plenty = { limit: 1_000_000, periodS: 3_600 };
  sim = await startTestSimulator({ rateLimits: { logs: plenty, spans: plenty, metrics: plenty } });
  scratch = mkdtempSync(join(tmpdir(), 'tinkr-burst-'));
  child = fork(CHILD, [], {
    cwd: scratch,
    execArgv: ['--expose-gc'],
    env: {
      PATH: process.env.PATH ?? '',
      // Node and glibc settings as the image sets them: the server as it ships.
      ...SHIPPED_RUNTIME_ENV,
      HOME: scratch,
      // One caller sends the whole burst: its per-key quota is off, as for a trusted batch client.
      ...envOnlyStart(sim.url, { token: TOKEN, subject: 'burst', quota: 'off' }),
      TINKR_METRICS_PORT: String(await freePort()),
    },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const [message] = (await once(child, 'message')) as [{ url: string; metricsUrl: string }];
  url = message.url;
  metricsUrl = message.metricsUrl;
});
afterAll(async () => {
  if (child.exitCode === null) {
    child.send({ type: 'close' });
    await once(child, 'exit');
  }
  await sim.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe(`a burst of ${BURST} requests at concurrency ${CONCURRENCY}`, () => {
  it('is answered without a 5xx, and the heap returns near its baseline', async () => {
    // Warm up first: lazy imports, JIT, connection pools and caches are not a leak.
    expect([...(await burst(WARMUP, CONCURRENCY)).keys()]).toEqual([200]);
    const baseline = await memory();
    const before = await scrape(metricsUrl);

    const statuses = await burst(BURST, CONCURRENCY);
    const after = await memory();
    const scraped = await scrape(metricsUrl);

    const fiveXX = [...statuses].filter(([status]) => status >= 500).reduce((n, [, c]) => n + c, 0);
    expect(fiveXX).toBe(0);
    expect(Object.fromEntries(statuses)).toEqual({ 200: BURST });
    // The self-metrics saw exactly the burst (plus the scrape-free warm-up already in `before`).
    const counted = valueOf(scraped, 'tinkr_http_requests_total', { status: '200' }) - valueOf(before, 'tinkr_http_requests_total', { status: '200' });
    expect(counted).toBe(BURST);
    expect(valueOf(scraped, 'tinkr_http_requests_in_flight')).toBe(0);
    expect(valueOf(scraped, 'tinkr_http_requests_shed_total')).toBe(0);

    const ratio = after.heapUsed / baseline.heapUsed;
    console.log(
      `burst memory (after a forced GC): heapUsed ${mb(baseline.heapUsed)} → ${mb(after.heapUsed)} (×${ratio.toFixed(2)}), ` +
        `rss ${mb(baseline.rss)} → ${mb(after.rss)}, external ${mb(baseline.external)} → ${mb(after.external)}; ` +
        `upstream calls ${sim.callCount()}`,
    );
    expect(ratio).toBeLessThan(MAX_HEAP_GROWTH_RATIO);
    // With the defaults a 512 MiB container keeps its headroom (docs/budget-and-caching.md).
    expect(after.rss).toBeLessThan(MAX_RSS_BYTES);
  });
});
