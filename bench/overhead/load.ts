/**
 * The load generator of the overhead benchmark, run as a child process so its CPU is not the
 * server's: `node bench/overhead/load.ts '<LoadSpec JSON>'` runs once and prints a LoadResult as
 * JSON on stdout. With one connection it sends requests one after another on one keep-alive
 * connection and times each with a monotonic clock (autocannon's histogram has whole-millisecond
 * resolution, too coarse for the sub-millisecond differences measured there); with more, it runs
 * autocannon.
 */
import autocannon from 'autocannon';
import { Client } from 'undici';
import { DEFAULT_DEMO_KEYS } from '@tinkr/datadog-simulator';
import { panelPath, panelUpstreamRequest, type Panel } from '../fleet/panels.ts';
import { percentile } from '../lib/stats.ts';

export type LoadTarget =
  /**
   * A panel through the gateway, each request with the next of `tokens`; `unique` adds a
   * per-request match-everything term so no two requests are identical.
   */
  | { kind: 'gateway'; panel: Panel; tokens: readonly string[]; noCache: boolean; unique: boolean }
  /** The same panel's Datadog request, straight to the simulator. */
  | { kind: 'direct'; panel: Panel; unique: boolean }
  /** A plain GET. */
  | { kind: 'get'; path: string };

export interface LoadSpec {
  url: string;
  durationMs: number;
  connections: number;
  target: LoadTarget;
}

export interface LoadResult {
  durationS: number;
  /** Responses per second. */
  rps: number;
  /** Requests written, answered or not (the last ones of a run may still be in flight at its end). */
  sent: number;
  responses: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  latencyMs: { mean: number; p50: number; p97_5: number; p99: number; max: number };
  /** `x-tinkr-cache` values seen; `(none)` when absent. */
  cache: Record<string, number>;
  statuses: Record<string, number>;
}

/** A reply slower than this is counted as a timeout: a loopback answer is never near it. */
const LOAD_TIMEOUT_S = 10;
/** Latency samples kept by the one-connection loop (a few per millisecond is far below this). */
const MAX_SAMPLES = 1_000_000;

/**
 * A negated term that matches nothing makes the query match everything, so the answer is as
 * large as without it, while the query text is new for every request.
 */
export function uniqueTerm(panel: Panel, n: number): Panel {
  if (panel.kind === 'metrics' || panel.kind === 'aggregate') throw new TypeError('unique terms need a logs or spans panel');
  return { ...panel, query: `-zzbench${process.pid}x${n}` };
}

interface OneRequest {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/** The `i`-th request of a run against `target`. */
export function requestFor(target: LoadTarget, i: number): OneRequest {
  switch (target.kind) {
    case 'get':
      return { method: 'GET', path: target.path, headers: {} };
    case 'gateway':
      return {
        method: 'GET',
        path: panelPath(target.unique ? uniqueTerm(target.panel, i) : target.panel),
        headers: {
          authorization: `Bearer ${target.tokens[i % target.tokens.length]}`,
          ...(target.noCache ? { 'cache-control': 'no-cache' } : {}),
        },
      };
    case 'direct': {
      const upstream = panelUpstreamRequest(target.unique ? uniqueTerm(target.panel, i) : target.panel, Date.now());
      const query = upstream.query ? `?${new URLSearchParams(upstream.query).toString()}` : '';
      const headers: Record<string, string> = {
        accept: 'application/json',
        'dd-api-key': DEFAULT_DEMO_KEYS.apiKey,
        'dd-application-key': DEFAULT_DEMO_KEYS.appKey,
      };
      if (upstream.method === 'POST') headers['content-type'] = 'application/json';
      return {
        method: upstream.method,
        path: `${upstream.path}${query}`,
        headers,
        ...(upstream.method === 'POST' ? { body: JSON.stringify(upstream.body ?? {}) } : {}),
      };
    }
  }
}

/** One keep-alive connection, one request at a time, each timed on the monotonic clock. */
async function runSequential(spec: LoadSpec): Promise<LoadResult> {
  const client = new Client(spec.url, { pipelining: 1, headersTimeout: LOAD_TIMEOUT_S * 1000, bodyTimeout: LOAD_TIMEOUT_S * 1000 });
  const cache: Record<string, number> = {};
  const statuses: Record<string, number> = {};
  const latencies: number[] = [];
  let sent = 0;
  let errors = 0;
  const started = performance.now();
  const end = started + spec.durationMs;
  try {
    while (performance.now() < end) {
      const request = requestFor(spec.target, sent);
      sent++;
      const t0 = performance.now();
      try {
        const response = await client.request({ ...request, ...(request.body === undefined ? {} : { body: request.body }) });
        await response.body.dump({ limit: Number.MAX_SAFE_INTEGER });
        if (latencies.length < MAX_SAMPLES) latencies.push(performance.now() - t0);
        statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1;
        const tag = response.headers['x-tinkr-cache'];
        const value = typeof tag === 'string' ? tag : '(none)';
        cache[value] = (cache[value] ?? 0) + 1;
      } catch {
        errors++;
      }
    }
  } finally {
    await client.close();
  }
  const elapsedS = (performance.now() - started) / 1000;
  const sorted = latencies.sort((a, b) => a - b);
  const responses = Object.values(statuses).reduce((a, b) => a + b, 0);
  const ok = Object.entries(statuses).reduce((n, [code, count]) => n + (code.startsWith('2') ? count : 0), 0);
  return {
    durationS: elapsedS,
    rps: responses / elapsedS,
    sent,
    responses,
    ok,
    non2xx: responses - ok,
    errors,
    timeouts: 0,
    latencyMs: {
      mean: sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length),
      p50: percentile(sorted, 50),
      p97_5: percentile(sorted, 97.5),
      p99: percentile(sorted, 99),
      max: sorted.at(-1) ?? Number.NaN,
    },
    cache,
    statuses,
  };
}

async function runAutocannon(spec: LoadSpec): Promise<LoadResult> {
  const cache: Record<string, number> = {};
  let n = 0;
  const result = await autocannon({
    url: spec.url,
    connections: spec.connections,
    duration: spec.durationMs / 1000,
    timeout: LOAD_TIMEOUT_S,
    requests: [
      {
        setupRequest: (req) => ({ ...req, ...requestFor(spec.target, n++) }),
        onResponse: (_status, _body, _context, headers) => {
          const value = headers['x-tinkr-cache'] ?? '(none)';
          cache[value] = (cache[value] ?? 0) + 1;
        },
      },
    ],
  });
  const statuses = Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, s]) => [code, s.count]));
  const responses = Object.values(statuses).reduce((a, b) => a + b, 0);
  return {
    durationS: result.duration,
    rps: result.requests.mean,
    sent: result.requests.sent,
    responses,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    latencyMs: { mean: result.latency.mean, p50: result.latency.p50, p97_5: result.latency.p97_5, p99: result.latency.p99, max: result.latency.max },
    cache,
    statuses,
  };
}

export function runLoad(spec: LoadSpec): Promise<LoadResult> {
  return spec.connections === 1 ? runSequential(spec) : runAutocannon(spec);
}

if (import.meta.main) {
  const spec = JSON.parse(process.argv[2] ?? '') as LoadSpec;
  process.stdout.write(JSON.stringify(await runLoad(spec)));
}
