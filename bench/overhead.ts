import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_DEMO_KEYS } from '@tinkr/datadog-simulator';
import { sha256Hex } from '../src/auth/keyring.ts';
import { DEFAULT_UPSTREAM_POLICY } from '../src/upstream/pipeline.ts';
import { freePort } from './lib/free-port.ts';
import { panelPath, panelUpstreamRequest, type Panel } from './fleet/panels.ts';
import { median, ratio } from './lib/stats.ts';
import { uniqueTerm, type LoadResult, type LoadSpec, type LoadTarget } from './overhead/load.ts';
import { measureMemory, type MemoryReport } from './overhead/memory.ts';
import { startBareProcess, startGatewayProcess, startSimulatorProcess, type Measured, type SimulatorProcess } from './overhead/processes.ts';

/**
 * What the gateway costs per request, side by side in one run. Every party has a process of its
 * own (simulator, server, bare reference, load generator), so the server's CPU time per request
 * is read from the server process alone (process.cpuUsage() over IPC):
 *
 * (a) bypass, one connection: a logs panel through the server with `Cache-Control: no-cache`
 *     and a query unique per request, against the same panel's Datadog request sent straight to
 *     the simulator. What the server adds to a caller's latency, at p50.
 * (b) hit, one connection and `connections` connections: the same panel as a dashboard asks for
 *     it (cached), against a bare Fastify route that JSON.stringify's the same body on every
 *     request. CPU per request of each, and their ratio.
 * (c) memory: a fresh server after `memoryQueries` distinct 500-row searches.
 *
 * The server runs with the shipped defaults: metrics on, access log to a real file. Runs of a
 * pair alternate (ABBA) so a busy moment of a shared machine hits both.
 */

export interface OverheadOptions {
  /** Length of each measured run. */
  runMs: number;
  /** One unmeasured run per target first, so the JIT and the sockets are warm. */
  warmupMs: number;
  /** Measured runs per target. */
  rounds: number;
  /** Connections of the throughput run of (b). */
  connections: number;
  /** Distinct 500-row queries of the memory run; 0 skips it. */
  memoryQueries: number;
  progress?: (line: string) => void;
}

export const OVERHEAD_DEFAULTS: Omit<OverheadOptions, 'progress'> = { runMs: 5_000, warmupMs: 1_000, rounds: 3, connections: 10, memoryQueries: 5_000 };

/** Bounds of the options: every run is a child process holding the machine busy. */
export const OVERHEAD_LIMITS = {
  runMs: { min: 100, max: 60_000 },
  warmupMs: { min: 0, max: 60_000 },
  rounds: { min: 1, max: 20 },
  connections: { min: 1, max: 256 },
  memoryQueries: { min: 0, max: 100_000 },
} as const;

/** Targets of the issue this benchmark reports against. */
export const OVERHEAD_TARGETS = {
  /** A hit's CPU per request against the bare route's: bare / server at least this. */
  hitCpuRatio: 0.8,
  /** Milliseconds a bypassed request adds at p50 with one connection, at most. */
  bypassAddedP50Ms: 1,
} as const;

/** A child that outlives its run by this much is stuck; it is killed and the run fails. */
const CHILD_GRACE_MS = 30_000;
/** The load generator's JSON result is small; anything past this is not it. */
const CHILD_MAX_OUTPUT_BYTES = 1024 * 1024;
/** Rate limits of the overhead simulator: never reached, so every call is served. */
export const UNLIMITED = { limit: 1_000_000_000, periodS: 3_600 } as const;

/**
 * Callers the server's requests are spread over, each with its own token: a per-caller quota
 * then costs what it costs per request instead of turning a load test of one caller into a
 * wall of 429s. All are unrestricted viewers, so they share cache entries.
 */
export const OVERHEAD_CALLERS = 1_000;

/** The panel every comparison loads: the newest 100 checkout logs of the last 15 minutes. */
export const OVERHEAD_PANEL: Panel = { kind: 'logs', title: 'checkout log stream', services: ['checkout'], levels: [], limit: 100, time: { since: '15m' } };

export interface TargetSummary {
  /** Medians over the rounds. */
  rps: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMeanMs: number;
  /** Median over the rounds of this process's CPU time per response, µs; absent when not measured. */
  cpuPerRequestUs?: number;
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
  /** Redis GETs made during this target's runs (counted when the contender can: replicas benchmark). */
  redisGets?: number;
  /** redisGets / sent. */
  redisGetsPerRequest?: number;
  runs: LoadResult[];
}

export interface Comparison {
  /** What is measured against what, e.g. `server (no-cache)` vs `simulator direct`. */
  subject: string;
  reference: string;
  connections: number;
  subjectSummary: TargetSummary;
  referenceSummary: TargetSummary;
  /** Medians of the per-round ratios subject / reference (pairs ran back to back). */
  throughputRatio: number;
  latencyP50Ratio: number;
  latencyP99Ratio: number;
  /** Median of per-round (subject p50 − reference p50), in ms: what the subject adds. */
  addedP50Ms: number;
  /** Median of per-round reference CPU per request / subject CPU per request (both measured). */
  cpuRatio?: number;
}

export interface OverheadReport {
  options: Omit<OverheadOptions, 'progress'>;
  startedAt: string;
  /** Item counts of one gateway answer and one direct answer to the same unique query. */
  equivalence: { gatewayItems: number; directItems: number; same: boolean };
  bypass: Comparison;
  hitLatency: Comparison;
  hitThroughput: Comparison;
  memory?: MemoryReport;
  targets: { hitCpuRatio: number; hitCpuRatioMet: boolean; bypassAddedP50Ms: number; bypassAddedP50MsMet: boolean };
}

export function checkOverheadOptions(o: OverheadOptions): void {
  for (const key of Object.keys(OVERHEAD_LIMITS) as Array<keyof typeof OVERHEAD_LIMITS>) {
    const { min, max } = OVERHEAD_LIMITS[key];
    const value = o[key];
    if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`${key} must be an integer in ${min}..${max}, got ${value}`);
  }
}

/** The server's environment: the shipped defaults, a thousand viewers, metrics on a free port. */
export async function gatewayEnv(simulatorUrl: string, tokens: readonly string[], home: string): Promise<Record<string, string>> {
  const keys = tokens.map((token, i) => ({ hash: sha256Hex(token), subject: `dashboard-${i}`, roles: ['viewer'] }));
  return {
    HOME: home,
    TINKR_BACKEND: 'datadog',
    DD_API_KEY: DEFAULT_DEMO_KEYS.apiKey,
    DD_APP_KEY: DEFAULT_DEMO_KEYS.appKey,
    DD_API_URL: simulatorUrl,
    TINKR_API_KEYS: JSON.stringify(keys),
    HOST: '127.0.0.1',
    PORT: '0',
    TINKR_METRICS_PORT: String(await freePort()),
  };
}

export async function runOverhead(options: OverheadOptions): Promise<OverheadReport> {
  checkOverheadOptions(options);
  const startedAt = new Date().toISOString();
  const scratch = mkdtempSync(join(tmpdir(), 'tinkr-bench-overhead-'));
  const tokens = Array.from({ length: OVERHEAD_CALLERS }, (_, i) => `tinkr-bench-caller-${i}`);
  const started: Array<{ close(): Promise<void> }> = [];
  const keep = <T extends { close(): Promise<void> }>(p: T): T => (started.push(p), p);
  try {
    const sim = keep(await startSimulatorProcess({ logs: UNLIMITED, spans: UNLIMITED, metrics: UNLIMITED }));
    const env = await gatewayEnv(sim.url, tokens, scratch);
    const server = keep(await startGatewayProcess(env, join(scratch, 'access.log')));
    const equivalence = await checkEquivalence(server.url, sim.url, tokens[0]!);

    // The body a cache hit answers with, captured from the server itself.
    const path = panelPath(OVERHEAD_PANEL);
    const captured = await fetchJson(`${server.url}${path}`, { authorization: `Bearer ${tokens[0]}` });
    const bodyFile = join(scratch, 'body.json');
    writeFileSync(bodyFile, JSON.stringify(captured.body));
    const bare = keep(await startBareProcess(bodyFile, '/logs'));

    const gateway = (noCache: boolean, unique: boolean): LoadTarget => ({ kind: 'gateway', panel: OVERHEAD_PANEL, tokens, noCache, unique });
    const serverNoCache: Contender = { label: 'server, no-cache', url: server.url, target: gateway(true, true), process: server, sim };
    const direct: Contender = { label: 'simulator direct', url: sim.url, target: { kind: 'direct', panel: OVERHEAD_PANEL, unique: true } };
    const serverHit: Contender = { label: 'server, cache hit', url: server.url, target: gateway(false, false), process: server, sim };
    const bareRoute: Contender = { label: 'bare Fastify route', url: bare.url, target: { kind: 'get', path }, process: bare };

    options.progress?.('  (a) caching bypassed, one connection: server vs simulator direct');
    const bypass = await compare(options, 1, serverNoCache, direct);
    options.progress?.('  (b) cache hits, one connection: server vs bare Fastify route');
    const hitLatency = await compare(options, 1, serverHit, bareRoute);
    options.progress?.(`  (b) cache hits, ${options.connections} connections: server vs bare Fastify route`);
    const hitThroughput = await compare(options, options.connections, serverHit, bareRoute);

    let memory: MemoryReport | undefined;
    if (options.memoryQueries > 0) {
      options.progress?.(`  (c) memory: a fresh server, ${options.memoryQueries} distinct 500-row queries`);
      await server.close();
      const fresh = keep(await startGatewayProcess(env, join(scratch, 'access-memory.log')));
      memory = await measureMemory(fresh, tokens, options.memoryQueries, DEFAULT_UPSTREAM_POLICY.cache.maxBytes);
    }
    const { progress: _progress, ...plain } = options;
    const cpuRatio = hitThroughput.cpuRatio ?? Number.NaN;
    return {
      options: plain,
      startedAt,
      equivalence,
      bypass,
      hitLatency,
      hitThroughput,
      ...(memory ? { memory } : {}),
      targets: {
        hitCpuRatio: cpuRatio,
        hitCpuRatioMet: cpuRatio >= OVERHEAD_TARGETS.hitCpuRatio,
        bypassAddedP50Ms: bypass.addedP50Ms,
        bypassAddedP50MsMet: bypass.addedP50Ms <= OVERHEAD_TARGETS.bypassAddedP50Ms,
      },
    };
  } finally {
    for (const p of started.reverse()) await p.close().catch(() => {});
    rmSync(scratch, { recursive: true, force: true });
  }
}

export interface Contender {
  label: string;
  url: string;
  target: LoadTarget;
  /** The process whose CPU is measured, when it is one of ours. */
  process?: Measured;
  /** Set to count the upstream calls this contender causes. */
  sim?: SimulatorProcess;
  /** Set to count the Redis GETs made while this contender runs (a counter read before and after). */
  redisGets?: () => Promise<number>;
}

interface Measurement {
  result: LoadResult;
  upstream: number;
  cpuUs: number | undefined;
  redisGets: number | undefined;
}

async function measure(contender: Contender, connections: number, durationMs: number): Promise<Measurement> {
  const callsBefore = await contender.sim?.callCount();
  const getsBefore = await contender.redisGets?.();
  const cpuBefore = await contender.process?.cpuUs();
  const result = await loadChild({ url: contender.url, durationMs, connections, target: contender.target });
  const cpuAfter = await contender.process?.cpuUs();
  const getsAfter = await contender.redisGets?.();
  const callsAfter = await contender.sim?.callCount();
  return {
    result,
    upstream: callsBefore !== undefined && callsAfter !== undefined ? callsAfter - callsBefore : 0,
    cpuUs: cpuBefore !== undefined && cpuAfter !== undefined ? cpuAfter - cpuBefore : undefined,
    redisGets: getsBefore !== undefined && getsAfter !== undefined ? getsAfter - getsBefore : undefined,
  };
}

export async function compare(options: Pick<OverheadOptions, 'warmupMs' | 'rounds' | 'runMs' | 'progress'>, connections: number, subject: Contender, reference: Contender): Promise<Comparison> {
  return (await compareEach(options, connections, [subject], reference))[0]!;
}

/**
 * Each subject against one reference, all in the same rounds: round by round the contenders run
 * one after another, the order reversed every other round (ABBA for one subject, ABCCBA for two),
 * and each subject's comparison uses the reference's runs of the same rounds.
 */
export async function compareEach(
  options: Pick<OverheadOptions, 'warmupMs' | 'rounds' | 'runMs' | 'progress'>,
  connections: number,
  subjects: readonly Contender[],
  reference: Contender,
): Promise<Comparison[]> {
  const all = [...subjects, reference];
  if (options.warmupMs > 0) for (const contender of all) await measure(contender, connections, options.warmupMs);
  const runs = new Map<Contender, Measurement[]>(all.map((c) => [c, []]));
  for (let round = 0; round < options.rounds; round++) {
    const order = round % 2 === 0 ? all : [...all].reverse();
    for (const contender of order) {
      const measured = await measure(contender, connections, options.runMs);
      runs.get(contender)!.push(measured);
      const cpu = measured.cpuUs !== undefined ? `  cpu ${(measured.cpuUs / Math.max(1, measured.result.responses)).toFixed(0)} µs/req` : '';
      options.progress?.(
        `    round ${round + 1}/${options.rounds} ${contender.label.padEnd(24)} ${measured.result.rps.toFixed(0).padStart(6)} req/s  p50 ${measured.result.latencyMs.p50.toFixed(2)} ms  p99 ${measured.result.latencyMs.p99.toFixed(2)} ms${cpu}`,
      );
    }
  }
  const referenceRuns = runs.get(reference)!;
  const referenceSummary = summarize(referenceRuns, reference);
  const perRequest = (m: Measurement): number => (m.cpuUs === undefined ? Number.NaN : m.cpuUs / Math.max(1, m.result.responses));
  return subjects.map((subject) => {
    const subjectRuns = runs.get(subject)!;
    const pairs = subjectRuns.map((s, i) => [s, referenceRuns[i]!] as const);
    const measuredCpu = subjectRuns[0]?.cpuUs !== undefined && referenceRuns[0]?.cpuUs !== undefined;
    return {
      subject: subject.label,
      reference: reference.label,
      connections,
      subjectSummary: summarize(subjectRuns, subject),
      referenceSummary,
      throughputRatio: median(pairs.map(([s, r]) => ratio(s.result.rps, r.result.rps))),
      latencyP50Ratio: median(pairs.map(([s, r]) => ratio(s.result.latencyMs.p50, r.result.latencyMs.p50))),
      latencyP99Ratio: median(pairs.map(([s, r]) => ratio(s.result.latencyMs.p99, r.result.latencyMs.p99))),
      addedP50Ms: median(pairs.map(([s, r]) => s.result.latencyMs.p50 - r.result.latencyMs.p50)),
      ...(measuredCpu ? { cpuRatio: median(pairs.map(([s, r]) => ratio(perRequest(r), perRequest(s)))) } : {}),
    };
  });
}

function summarize(runs: readonly Measurement[], contender: Contender): TargetSummary {
  const results = runs.map((r) => r.result);
  const cache: Record<string, number> = {};
  for (const r of results) for (const [k, v] of Object.entries(r.cache)) cache[k] = (cache[k] ?? 0) + v;
  const responses = results.reduce((n, r) => n + r.responses, 0);
  const sent = results.reduce((n, r) => n + r.sent, 0);
  const upstreamCalls = runs.reduce((n, r) => n + r.upstream, 0);
  const redisGets = runs.reduce((n, r) => n + (r.redisGets ?? 0), 0);
  const cpu = runs.filter((r) => r.cpuUs !== undefined).map((r) => r.cpuUs! / Math.max(1, r.result.responses));
  return {
    rps: median(results.map((r) => r.rps)),
    latencyP50Ms: median(results.map((r) => r.latencyMs.p50)),
    latencyP99Ms: median(results.map((r) => r.latencyMs.p99)),
    latencyMeanMs: median(results.map((r) => r.latencyMs.mean)),
    ...(cpu.length > 0 ? { cpuPerRequestUs: median(cpu) } : {}),
    sent,
    responses,
    non2xx: results.reduce((n, r) => n + r.non2xx, 0),
    errors: results.reduce((n, r) => n + r.errors + r.timeouts, 0),
    cache,
    ...(contender.sim !== undefined ? { upstreamCalls, upstreamPerRequest: ratio(upstreamCalls, sent) } : {}),
    ...(contender.redisGets !== undefined ? { redisGets, redisGetsPerRequest: ratio(redisGets, sent) } : {}),
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
async function checkEquivalence(serverUrl: string, simUrl: string, token: string): Promise<OverheadReport['equivalence']> {
  const panel = uniqueTerm(OVERHEAD_PANEL, -1);
  const viaGateway = await fetchJson(`${serverUrl}${panelPath(panel)}`, { authorization: `Bearer ${token}`, 'cache-control': 'no-cache' });
  const upstream = panelUpstreamRequest(panel, Date.now());
  const direct = await fetchJson(
    `${simUrl}${upstream.path}`,
    { 'content-type': 'application/json', 'dd-api-key': DEFAULT_DEMO_KEYS.apiKey, 'dd-application-key': DEFAULT_DEMO_KEYS.appKey },
    JSON.stringify(upstream.body),
  );
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
