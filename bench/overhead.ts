import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import { DEFAULT_DEMO_KEYS, startSimulator, type Simulator } from '../src/simulator/index.ts';
import { panelPath, panelUpstreamRequest, type Panel } from './fleet/panels.ts';
import { MAX_GATEWAY_CALLERS, startGateway, type Gateway } from './lib/gateway.ts';
import { median, ratio } from './lib/stats.ts';
import { uniqueTerm, type LoadResult, type LoadSpec, type LoadTarget } from './overhead/load.ts';

/**
 * What the gateway costs per request, side by side in one run, as ratios:
 *
 * (a) bypass: a logs panel through the server with `Cache-Control: no-cache` and a query made
 *     unique per request (so nothing can be served from a cache or coalesced), against the same
 *     panel's Datadog request sent straight to the simulator;
 * (b) cached: the same panel through the server as a dashboard asks for it (cacheable), against
 *     a bare Fastify route answering the same JSON, captured from the server first.
 *
 * The simulator, the server and the bare route run in this process; autocannon runs in a child
 * process. Runs of a pair alternate (ABBA) so a busy moment of a shared machine hits both.
 */

export interface OverheadOptions {
  /** Length of each measured run. */
  runMs: number;
  /** One unmeasured run per target first, so the JIT and the sockets are warm. */
  warmupMs: number;
  /** Measured runs per target. */
  rounds: number;
  /** autocannon connections. */
  connections: number;
  progress?: (line: string) => void;
}

export const OVERHEAD_DEFAULTS: Omit<OverheadOptions, 'progress'> = { runMs: 5_000, warmupMs: 1_000, rounds: 3, connections: 10 };

/** Bounds of the options: every run is a child process holding the machine busy. */
export const OVERHEAD_LIMITS = {
  runMs: { min: 100, max: 60_000 },
  warmupMs: { min: 0, max: 60_000 },
  rounds: { min: 1, max: 20 },
  connections: { min: 1, max: 256 },
} as const;

/** A child that outlives its run by this much is stuck; it is killed and the run fails. */
const CHILD_GRACE_MS = 30_000;
/** autocannon's JSON result is small; anything past this is not it. */
const CHILD_MAX_OUTPUT_BYTES = 1024 * 1024;
/** Rate limits of the overhead simulator: never reached, so every call is served. */
const UNLIMITED = { limit: 1_000_000_000, periodS: 3_600 } as const;

/**
 * Callers the server's requests are spread over, each with its own token: a per-caller quota,
 * if the server enforces one, then costs what it costs per request instead of turning a load
 * test of one caller into a wall of 429s. All are unrestricted, so they share cache entries.
 */
export const OVERHEAD_CALLERS = MAX_GATEWAY_CALLERS;

/** The panel both comparisons load: the newest 100 checkout logs of the last 15 minutes. */
export const OVERHEAD_PANEL: Panel = { kind: 'logs', title: 'checkout log stream', services: ['checkout'], levels: [], limit: 100, time: { since: '15m' } };

export interface TargetSummary {
  /** Medians over the rounds. */
  rps: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMeanMs: number;
  /** Totals over the rounds. */
  sent: number;
  responses: number;
  non2xx: number;
  errors: number;
  cache: Record<string, number>;
  /** Requests the simulator received during this target's runs (counted for the server only). */
  upstreamCalls?: number;
  /** upstreamCalls / sent. */
  upstreamPerRequest?: number;
  runs: LoadResult[];
}

export interface Comparison {
  /** What is measured against what, e.g. `server (no-cache)` vs `simulator direct`. */
  subject: string;
  reference: string;
  subjectSummary: TargetSummary;
  referenceSummary: TargetSummary;
  /** Medians of the per-round ratios subject / reference (pairs ran back to back). */
  throughputRatio: number;
  latencyP50Ratio: number;
  latencyP99Ratio: number;
  /** Median of per-round (subject p50 − reference p50), in ms: what the subject adds. */
  addedP50Ms: number;
}

export interface OverheadReport {
  options: Omit<OverheadOptions, 'progress'>;
  startedAt: string;
  /** Item counts of one gateway answer and one direct answer to the same unique query. */
  equivalence: { gatewayItems: number; directItems: number; same: boolean };
  bypass: Comparison;
  cached: Comparison;
}

export function checkOverheadOptions(o: OverheadOptions): void {
  for (const key of Object.keys(OVERHEAD_LIMITS) as Array<keyof typeof OVERHEAD_LIMITS>) {
    const { min, max } = OVERHEAD_LIMITS[key];
    const value = o[key];
    if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`${key} must be an integer in ${min}..${max}, got ${value}`);
  }
}

export async function runOverhead(options: OverheadOptions): Promise<OverheadReport> {
  checkOverheadOptions(options);
  const startedAt = new Date().toISOString();
  const sim = await startSimulator({ rateLimits: { logs: UNLIMITED, spans: UNLIMITED, metrics: UNLIMITED } });
  let gateway: Gateway | undefined;
  let bare: FastifyInstance | undefined;
  try {
    gateway = await startGateway(sim.url, OVERHEAD_CALLERS);
    const tokens = gateway.tokens;
    const token = tokens[0]!;
    const equivalence = await checkEquivalence(gateway, sim, token);

    // The body a cache hit would answer with, captured from the server itself.
    const captured = await fetchJson(`${gateway.url}${panelPath(OVERHEAD_PANEL)}`, { authorization: `Bearer ${token}` });
    bare = await startBareRoute(captured.body);
    const bareUrl = bareAddress(bare);

    const run = runner(options, sim);
    options.progress?.('  (a) caching bypassed: server vs simulator direct');
    const bypass = await compare(
      run,
      options,
      { label: 'server, no-cache', url: gateway.url, target: { kind: 'gateway', panel: OVERHEAD_PANEL, tokens, noCache: true, unique: true }, countUpstream: true },
      { label: 'simulator direct', url: sim.url, target: { kind: 'direct', panel: OVERHEAD_PANEL, unique: true }, countUpstream: false },
    );
    options.progress?.('  (b) caching on: server vs bare Fastify route');
    const cached = await compare(
      run,
      options,
      { label: 'server, cacheable', url: gateway.url, target: { kind: 'gateway', panel: OVERHEAD_PANEL, tokens, noCache: false, unique: false }, countUpstream: true },
      { label: 'bare Fastify route', url: bareUrl, target: { kind: 'get', path: panelPath(OVERHEAD_PANEL) }, countUpstream: false },
    );
    const { progress: _progress, ...plain } = options;
    return { options: plain, startedAt, equivalence, bypass, cached };
  } finally {
    await bare?.close();
    await gateway?.close();
    await sim.close();
  }
}

interface Contender {
  label: string;
  url: string;
  target: LoadTarget;
  countUpstream: boolean;
}

type Runner = (contender: Contender, durationMs: number) => Promise<{ result: LoadResult; upstream: number }>;

function runner(options: OverheadOptions, sim: Simulator): Runner {
  return async (contender, durationMs) => {
    const before = sim.callCount();
    const result = await loadChild({ url: contender.url, durationMs, connections: options.connections, target: contender.target });
    return { result, upstream: sim.callCount() - before };
  };
}

async function compare(run: Runner, options: OverheadOptions, subject: Contender, reference: Contender): Promise<Comparison> {
  if (options.warmupMs > 0) {
    await run(subject, options.warmupMs);
    await run(reference, options.warmupMs);
  }
  const subjectRuns: Array<{ result: LoadResult; upstream: number }> = [];
  const referenceRuns: Array<{ result: LoadResult; upstream: number }> = [];
  for (let round = 0; round < options.rounds; round++) {
    // ABBA: the pair's order flips every round.
    const order = round % 2 === 0 ? [subject, reference] : [reference, subject];
    for (const contender of order) {
      const measured = await run(contender, options.runMs);
      (contender === subject ? subjectRuns : referenceRuns).push(measured);
      options.progress?.(
        `    round ${round + 1}/${options.rounds} ${contender.label.padEnd(20)} ${measured.result.rps.toFixed(0).padStart(6)} req/s  p50 ${measured.result.latencyMs.p50} ms  p99 ${measured.result.latencyMs.p99} ms`,
      );
    }
  }
  const pairs = subjectRuns.map((s, i) => [s.result, referenceRuns[i]!.result] as const);
  return {
    subject: subject.label,
    reference: reference.label,
    subjectSummary: summarize(subjectRuns, subject.countUpstream),
    referenceSummary: summarize(referenceRuns, reference.countUpstream),
    throughputRatio: median(pairs.map(([s, r]) => ratio(s.rps, r.rps))),
    latencyP50Ratio: median(pairs.map(([s, r]) => ratio(s.latencyMs.p50, r.latencyMs.p50))),
    latencyP99Ratio: median(pairs.map(([s, r]) => ratio(s.latencyMs.p99, r.latencyMs.p99))),
    addedP50Ms: median(pairs.map(([s, r]) => s.latencyMs.p50 - r.latencyMs.p50)),
  };
}

function summarize(runs: ReadonlyArray<{ result: LoadResult; upstream: number }>, countUpstream: boolean): TargetSummary {
  const results = runs.map((r) => r.result);
  const cache: Record<string, number> = {};
  for (const r of results) for (const [k, v] of Object.entries(r.cache)) cache[k] = (cache[k] ?? 0) + v;
  const responses = results.reduce((n, r) => n + r.responses, 0);
  const sent = results.reduce((n, r) => n + r.sent, 0);
  const upstreamCalls = runs.reduce((n, r) => n + r.upstream, 0);
  return {
    rps: median(results.map((r) => r.rps)),
    latencyP50Ms: median(results.map((r) => r.latencyMs.p50)),
    latencyP99Ms: median(results.map((r) => r.latencyMs.p99)),
    latencyMeanMs: median(results.map((r) => r.latencyMs.mean)),
    sent,
    responses,
    non2xx: results.reduce((n, r) => n + r.non2xx, 0),
    errors: results.reduce((n, r) => n + r.errors + r.timeouts, 0),
    cache,
    ...(countUpstream ? { upstreamCalls, upstreamPerRequest: ratio(upstreamCalls, sent) } : {}),
    runs: results,
  };
}

const LOAD_SCRIPT = fileURLToPath(new URL('./overhead/load.ts', import.meta.url));

function loadChild(spec: LoadSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [LOAD_SCRIPT, JSON.stringify(spec)],
      { timeout: spec.durationMs + CHILD_GRACE_MS, maxBuffer: CHILD_MAX_OUTPUT_BYTES, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`load generator failed: ${error.message}\n${stderr.slice(0, 2_000)}`));
        else resolve(JSON.parse(stdout) as LoadResult);
      },
    );
  });
}

/** One answer each from the server and the simulator to the same unique query: same items? */
async function checkEquivalence(gateway: Gateway, sim: Simulator, token: string): Promise<OverheadReport['equivalence']> {
  const panel = uniqueTerm(OVERHEAD_PANEL, 0);
  const viaGateway = await fetchJson(`${gateway.url}${panelPath(panel)}`, { authorization: `Bearer ${token}`, 'cache-control': 'no-cache' });
  const upstream = panelUpstreamRequest(panel, Date.now());
  const direct = await fetchJson(`${sim.url}${upstream.path}`, {
    'content-type': 'application/json',
    'dd-api-key': DEFAULT_DEMO_KEYS.apiKey,
    'dd-application-key': DEFAULT_DEMO_KEYS.appKey,
  }, JSON.stringify(upstream.body));
  const gatewayItems = arrayLength((viaGateway.body as { data?: unknown }).data);
  const directItems = arrayLength((direct.body as { data?: unknown }).data);
  return { gatewayItems, directItems, same: gatewayItems === directItems && gatewayItems > 0 };
}

function arrayLength(value: unknown): number {
  return Array.isArray(value) ? value.length : -1;
}

async function fetchJson(url: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, { method: body === undefined ? 'GET' : 'POST', headers, ...(body === undefined ? {} : { body }) });
  if (!response.ok) throw new Error(`${url.split('?')[0]} answered ${response.status}`);
  return { status: response.status, body: (await response.json()) as unknown };
}

/** The least a Node HTTP server can do for this answer: Fastify, one route, no hooks, no auth. */
async function startBareRoute(body: unknown): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  app.get('/logs', async () => body);
  await app.listen({ host: '127.0.0.1', port: 0 });
  return app;
}

function bareAddress(app: FastifyInstance): string {
  const address = app.server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}
