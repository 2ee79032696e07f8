/**
 * The load generator of the overhead benchmark, run as a child process so its CPU is not the
 * server's: `node bench/overhead/load.ts '<LoadSpec JSON>'` runs autocannon once and prints a
 * LoadResult as JSON on stdout.
 */
import autocannon, { type Request } from 'autocannon';
import { DEFAULT_DEMO_KEYS } from '../../src/simulator/index.ts';
import { panelPath, panelUpstreamRequest, type Panel } from '../fleet/panels.ts';

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
  /** Responses per second (autocannon's per-second samples, mean). */
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

/**
 * A negated term that matches nothing makes the query match everything, so the answer is as
 * large as without it, while the query text is new for every request.
 */
export function uniqueTerm(panel: Panel, n: number): Panel {
  if (panel.kind === 'metrics' || panel.kind === 'aggregate') throw new TypeError('unique terms need a logs or spans panel');
  return { ...panel, query: `-zzbench${process.pid}x${n}` };
}

function request(target: LoadTarget): Request {
  let n = 0;
  switch (target.kind) {
    case 'get':
      return { method: 'GET', path: target.path };
    case 'gateway': {
      const headers = (i: number): Record<string, string> => ({
        authorization: `Bearer ${target.tokens[i % target.tokens.length]}`,
        ...(target.noCache ? { 'cache-control': 'no-cache' } : {}),
      });
      return {
        method: 'GET',
        setupRequest: (req) => {
          const i = n++;
          return { ...req, headers: headers(i), path: panelPath(target.unique ? uniqueTerm(target.panel, i) : target.panel) };
        },
      };
    }
    case 'direct':
      return {
        method: 'GET',
        setupRequest: (req) => {
          const upstream = panelUpstreamRequest(target.unique ? uniqueTerm(target.panel, n++) : target.panel, Date.now());
          const query = upstream.query ? `?${new URLSearchParams(upstream.query).toString()}` : '';
          const headers: Record<string, string> = {
            accept: 'application/json',
            'dd-api-key': DEFAULT_DEMO_KEYS.apiKey,
            'dd-application-key': DEFAULT_DEMO_KEYS.appKey,
          };
          if (upstream.method === 'POST') headers['content-type'] = 'application/json';
          return {
            ...req,
            method: upstream.method,
            path: `${upstream.path}${query}`,
            headers,
            ...(upstream.method === 'POST' ? { body: JSON.stringify(upstream.body ?? {}) } : {}),
          };
        },
      };
  }
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const cache: Record<string, number> = {};
  const base = request(spec.target);
  const result = await autocannon({
    url: spec.url,
    connections: spec.connections,
    duration: spec.durationMs / 1000,
    timeout: LOAD_TIMEOUT_S,
    requests: [
      {
        ...base,
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

if (import.meta.main) {
  const spec = JSON.parse(process.argv[2] ?? '') as LoadSpec;
  process.stdout.write(JSON.stringify(await runLoad(spec)));
}
