import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_DEMO_KEYS, DEFAULT_RATE_LIMITS, startSimulator, type Endpoint, type RateLimit, type Simulator } from '@tinkr/datadog-simulator';
import { Pool } from 'undici';
import { createDatadogTransport, type DatadogTransport } from '../src/datadog/client.ts';
import { buildDashboards, summarizeMix, type Dashboard, type Mix, type MixSummary } from './fleet/mix.ts';
import { panelPath, panelUpstreamRequest } from './fleet/panels.ts';
import { FAMILIES, fire, Recorder, type Family, type Observation, type Side, type SideReport, type Upstream } from './fleet/recorder.ts';
import { fleetSchedule } from './fleet/schedule.ts';
import { startGateway, type Gateway } from './lib/gateway.ts';
import { ratio } from './lib/stats.ts';

/**
 * The dashboard fleet: N dashboards × P panels refreshing on a schedule, sent at the same
 * moments to two stacks side by side in one process —
 *
 * - gateway: the real server (loadConfig → startServer) in front of simulator A;
 * - pass-through: each panel translated into the Datadog request the gateway would send for it
 *   and sent straight to simulator B with the gateway's own transport, i.e. what any proxy
 *   that forwards every request costs.
 *
 * Upstream calls are counted by the simulators (every request they receive, 429s included).
 * Callers see status, latency, `x-tinkr-cache` and `Age`; nothing else about the server is
 * assumed, so the benchmark measures whatever the server does today.
 */

export interface FleetOptions {
  dashboards: number;
  panels: number;
  durationMs: number;
  intervalMs: number;
  mix: Mix;
  /** Fraction of the interval a refresh may drift, in all. */
  jitter: number;
  seed: number;
  /** Budgets of both simulators. */
  rateLimits: Readonly<Record<Endpoint, RateLimit>>;
  /** A dashboard gives up on a panel after this long (counted as "no answer"). */
  panelTimeoutMs: number;
  progress?: (line: string) => void;
}

/** The issue's fleet: 50 dashboards × 8 panels refreshing every 10 s for 2 minutes. */
export const FLEET_DEFAULTS: Omit<FleetOptions, 'progress'> = {
  dashboards: 50,
  panels: 8,
  durationMs: 120_000,
  intervalMs: 10_000,
  mix: 'mixed',
  jitter: 0.1,
  seed: 5,
  // Spans 300/h is Datadog's documented limit; logs and metrics have no published number
  // (clients must read X-RateLimit-*): the simulator's defaults, of the order orgs see.
  rateLimits: DEFAULT_RATE_LIMITS,
  // Past the server's own 30 s request deadline, so the server always answers first.
  panelTimeoutMs: 35_000,
};

/** Bounds of the options: each is a socket, a timer or a stored sample per refresh. */
export const FLEET_LIMITS = {
  dashboards: { min: 1, max: 1_000 },
  durationMs: { min: 10, max: 3_600_000 },
  intervalMs: { min: 10, max: 600_000 },
  /** Panel requests in one run (per side): bounds the samples kept for percentiles. */
  maxRequests: 2_000_000,
} as const;

/** Sockets each side opens to its target: a browser per dashboard, capped. */
export const MAX_CLIENT_CONNECTIONS = 64;
/** How often progress is reported. */
const PROGRESS_EVERY_MS = 10_000;
/** The issue's target: at least this many times fewer upstream calls than pass-through... */
export const TARGET_REDUCTION = 50;

export { FAMILIES, fire, Recorder, type Family, type Observation, type Side, type SideReport, type Upstream };

export interface FleetReport {
  options: Omit<FleetOptions, 'progress' | 'rateLimits'> & { rateLimits: Record<Endpoint, RateLimit> };
  startedAt: string;
  elapsedMs: number;
  mixSummary: MixSummary;
  refreshes: number;
  /** Upstream calls if each distinct panel cost one call per refresh interval (fixed windows: one). */
  onePerIntervalFloor: number;
  budgetPerHour: Record<Family, number>;
  /** A budget period ended during the run, so part of the run had a fresh budget. */
  budgetRolledOver: Record<Family, boolean>;
  gateway: SideReport;
  passThrough: SideReport;
  /** passThrough.upstream.total / gateway.upstream.total. */
  reduction: number;
  target: { reduction: number; reductionMet: boolean; zero5xx: boolean; met: boolean };
}

export function checkFleetOptions(o: FleetOptions): void {
  const within = (name: string, value: number, min: number, max: number): void => {
    if (!Number.isFinite(value) || value < min || value > max) throw new RangeError(`${name} must be in ${min}..${max}, got ${value}`);
  };
  within('dashboards', o.dashboards, FLEET_LIMITS.dashboards.min, FLEET_LIMITS.dashboards.max);
  within('duration (ms)', o.durationMs, FLEET_LIMITS.durationMs.min, FLEET_LIMITS.durationMs.max);
  within('interval (ms)', o.intervalMs, FLEET_LIMITS.intervalMs.min, FLEET_LIMITS.intervalMs.max);
  within('jitter', o.jitter, 0, 0.9);
}

export async function runFleet(options: FleetOptions): Promise<FleetReport> {
  checkFleetOptions(options);
  const startMs = Date.now();
  const dashboards = buildDashboards(options.dashboards, options.panels, options.mix, startMs);
  const schedule = fleetSchedule(options);
  if (schedule.length * options.panels > FLEET_LIMITS.maxRequests) {
    throw new RangeError(`${schedule.length * options.panels} panel requests per side is over ${FLEET_LIMITS.maxRequests}; shorten the run`);
  }

  const rateLimits = { ...options.rateLimits };
  const simA = await startSimulator({ rateLimits });
  const simB = await startSimulator({ rateLimits });
  let gateway: Gateway | undefined;
  const sides: Side[] = [];
  try {
    gateway = await startGateway(simA.url, options.dashboards);
    // The gateway's boot key check (one validate, one metrics query) is not dashboard traffic:
    // both sides start the comparison with nothing counted and nothing spent.
    simA.resetRequests();
    simA.rateLimit.reset();
    const connections = Math.min(options.dashboards, MAX_CLIENT_CONNECTIONS);
    const gatewaySide = viaGateway(gateway, connections, options.panelTimeoutMs);
    const passSide = passThrough(createDatadogTransport({ baseUrl: simB.url, userAgent: 'tinkr-bench-pass-through', connections }), options.panelTimeoutMs);
    sides.push(gatewaySide, passSide);

    const [gatewayRecorder, passRecorder] = [new Recorder(), new Recorder()];
    const elapsedMs = await playSchedule(options, dashboards, schedule, [
      { label: 'gateway', side: gatewaySide, recorder: gatewayRecorder, sim: simA },
      { label: 'pass-through', side: passSide, recorder: passRecorder, sim: simB },
    ]);

    const gatewayReport = gatewayRecorder.report(upstreamOf(simA), options.durationMs);
    const passReport = passRecorder.report(upstreamOf(simB), options.durationMs);
    const mixSummary = summarizeMix(dashboards, options.mix);
    const intervals = Math.ceil(options.durationMs / options.intervalMs);
    const reduction = ratio(passReport.upstream.total, gatewayReport.upstream.total);
    const reductionMet = reduction >= TARGET_REDUCTION;
    const zero5xx = gatewayReport.status5xx === 0;
    return {
      options: { ...withoutProgress(options), rateLimits },
      startedAt: new Date(startMs).toISOString(),
      elapsedMs,
      mixSummary,
      refreshes: schedule.length,
      onePerIntervalFloor: mixSummary.distinctRelative * intervals + mixSummary.distinctAbsolute,
      ...budgetFacts(rateLimits, startMs, startMs + elapsedMs),
      gateway: gatewayReport,
      passThrough: passReport,
      reduction,
      target: { reduction: TARGET_REDUCTION, reductionMet, zero5xx, met: reductionMet && zero5xx },
    };
  } finally {
    for (const side of sides) await side.close();
    await gateway?.close();
    await simA.close();
    await simB.close();
  }
}

/** The budgets per hour, and whether a budget period ended between `startMs` and `endMs`. */
export function budgetFacts(rateLimits: Readonly<Record<Endpoint, RateLimit>>, startMs: number, endMs: number): Pick<FleetReport, 'budgetPerHour' | 'budgetRolledOver'> {
  return {
    budgetPerHour: Object.fromEntries(FAMILIES.map((f) => [f, (rateLimits[f].limit * 3_600) / rateLimits[f].periodS])) as Record<Family, number>,
    budgetRolledOver: Object.fromEntries(
      FAMILIES.map((f) => {
        const periodMs = rateLimits[f].periodS * 1000;
        return [f, Math.floor(startMs / periodMs) !== Math.floor(endMs / periodMs)];
      }),
    ) as Record<Family, boolean>,
  };
}

/** One stack the schedule drives: how panels are sent, what its callers saw, its simulator. */
export interface Played {
  label: string;
  side: Side;
  recorder: Recorder;
  sim: Simulator;
}

/**
 * Sends every refresh of `schedule` to every stack at the same moment and waits for the last
 * answers; returns how long it took (ms).
 */
export async function playSchedule(options: FleetOptions, dashboards: readonly Dashboard[], schedule: ReturnType<typeof fleetSchedule>, stacks: readonly Played[]): Promise<number> {
  const began = performance.now();
  let nextProgress = PROGRESS_EVERY_MS;
  for (const event of schedule) {
    const wait = event.atMs - (performance.now() - began);
    if (wait > 0) await sleep(wait);
    const dashboard = dashboards[event.dashboard]!;
    for (const stack of stacks) fire(dashboard, stack.side, stack.recorder);
    if (event.atMs >= nextProgress) {
      nextProgress += PROGRESS_EVERY_MS;
      options.progress?.(`  t=${Math.round(event.atMs / 1000)}s  ${stacks.map((s) => `${s.label}: ${s.recorder.sent} sent, ${s.sim.callCount()} upstream`).join('  |  ')}`);
    }
  }
  // Let the last refreshes land (each is bounded by panelTimeoutMs).
  await Promise.all(stacks.map((s) => s.recorder.settled()));
  return Math.round(performance.now() - began);
}

export function withoutProgress(options: FleetOptions): Omit<FleetOptions, 'progress' | 'rateLimits'> {
  const { progress: _progress, rateLimits: _limits, ...rest } = options;
  return rest;
}

export function upstreamOf(sim: Simulator): Upstream {
  const counts = Object.fromEntries(FAMILIES.map((f) => [f, sim.callCount(f)])) as Record<Family, number>;
  return { ...counts, other: sim.callCount('other'), total: sim.callCount() };
}

/** Dashboards calling the gateway: GET with the dashboard's own token. */
export function viaGateway(gateway: Gateway, connections: number, timeoutMs: number): Side {
  const pool = new Pool(gateway.url, { connections });
  return {
    async send(panel, dashboard) {
      const started = performance.now();
      const response = await pool.request({
        method: 'GET',
        path: panelPath(panel),
        headers: { authorization: `Bearer ${gateway.tokens[dashboard]}` },
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await response.body.text();
      const latencyMs = performance.now() - started;
      const header = (name: string): string | undefined => {
        const v = response.headers[name];
        return Array.isArray(v) ? v[0] : v;
      };
      const age = header('age');
      return {
        status: response.statusCode,
        latencyMs,
        cache: header('x-tinkr-cache'),
        ageS: age !== undefined && /^\d+$/.test(age) ? Number(age) : undefined,
        code: response.statusCode >= 400 ? problemCode(text) : undefined,
      };
    },
    close: () => pool.close(),
  };
}

/** The baseline: the panel's Datadog request, straight to the simulator, with the gateway's transport. */
function passThrough(transport: DatadogTransport, timeoutMs: number): Side {
  return {
    async send(panel) {
      const request = panelUpstreamRequest(panel, Date.now());
      const started = performance.now();
      const response = await transport.request(request, DEFAULT_DEMO_KEYS, AbortSignal.timeout(timeoutMs));
      return { status: response.status, latencyMs: performance.now() - started, cache: undefined, ageS: undefined, code: undefined };
    },
    close: () => transport.close(),
  };
}

function problemCode(text: string): string {
  try {
    const body = JSON.parse(text) as { code?: unknown };
    return typeof body.code === 'string' ? body.code : '(no code)';
  } catch {
    return '(not JSON)';
  }
}
