import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator } from '@tinkr/datadog-simulator';
import { startTestRedis, type TestRedis } from '../test/helpers/redis-server.ts';
import {
  budgetFacts,
  checkFleetOptions,
  MAX_CLIENT_CONNECTIONS,
  playSchedule,
  prepareFleetRun,
  Recorder,
  upstreamOf,
  viaGateway,
  withoutProgress,
  type FleetOptions,
  type FleetReport,
  type Side,
  type SideReport,
} from './fleet.ts';
import { summarizeMix } from './fleet/mix.ts';
import { panelPath } from './fleet/panels.ts';
import { startGateway, type Gateway } from './lib/gateway.ts';
import { ratio } from './lib/stats.ts';
import { compareEach, gatewayEnv, OVERHEAD_CALLERS, OVERHEAD_PANEL, UNLIMITED, type Comparison, type Contender, type OverheadOptions } from './overhead.ts';
import { startGatewayProcess, startSimulatorProcess } from './overhead/processes.ts';

/**
 * Several replicas sharing one Redis against one replica alone (issue 12), side by side in one
 * run, with a real `redis-server` started by the benchmark (nothing saved to disk):
 *
 * (a) fleet: the dashboard fleet's schedule (fleet.ts) sent at the same moments to one gateway
 *     in front of simulator A, and to `replicas` gateways sharing Redis in front of simulator B,
 *     each panel request going to the next replica in turn (a round-robin load balancer, no
 *     stickiness). Same budgets on both simulators. The number that matters: upstream calls of
 *     the replicas / upstream calls of the one replica; sharing the cache and the flights should
 *     make it about 1 (target ≤ 1.1), where independent replicas cost up to `replicas` times.
 * (b) hit: what a cache hit costs with Redis rather than without: the overhead benchmark's hit
 *     run (one connection, one panel, server processes booted from the environment) against
 *     three servers in the same rounds: one without Redis (the reference); one with
 *     TINKR_REDIS_URL as it ships, whose repeated hits are served from its near copy of the
 *     shared answer (redis/cache-store.ts), so Redis costs them the quota's round trip; and one
 *     with TINKR_REDIS_URL (another Redis database) and no near copies (`--no-near-copies`, a
 *     benchmark-only start option), so every hit also reads the answer from Redis, as a replica
 *     does on its first hit of an answer another replica made. The Redis GETs of each run are
 *     counted (INFO commandstats) to show which hits read Redis.
 *
 * Every gateway runs its shipped defaults (store timeout included).
 */

export interface ReplicasOptions {
  fleet: FleetOptions;
  /** Replicas sharing Redis. */
  replicas: number;
  /** The hit runs: length, warm-up and rounds as in the overhead benchmark. */
  hit: Pick<OverheadOptions, 'runMs' | 'warmupMs' | 'rounds'>;
  progress?: (line: string) => void;
}

/** The fleet: three replicas. */
export const DEFAULT_REPLICAS = 3;
/** Each replica is a whole server in this process; past a handful the machine, not the design, is measured. */
export const REPLICAS_LIMITS = { min: 2, max: 8 } as const;
/** The target: the replicas together spend at most this many times the calls of one. */
export const TARGET_CALL_RATIO = 1.1;

export interface ReplicaFleetReport extends Pick<FleetReport, 'options' | 'startedAt' | 'elapsedMs' | 'mixSummary' | 'refreshes' | 'budgetPerHour' | 'budgetRolledOver'> {
  replicas: number;
  single: SideReport;
  fleet: SideReport;
  /** fleet.upstream.total / single.upstream.total. */
  callRatio: number;
  target: { callRatio: number; callRatioMet: boolean; zero5xx: boolean; met: boolean };
}

export interface ReplicasReport {
  fleet: ReplicaFleetReport;
  /** Subject: a hit on a replica with Redis, served from its near copy; reference: a hit on a server without Redis. */
  hitNearCopy: Comparison;
  /** Subject: a hit whose answer is read from Redis (no near copy); same reference, same rounds. */
  hitFromRedis: Comparison;
}

/** The hit runs' contenders. */
export const HIT_LABELS = { inProcess: 'hit in process', nearCopy: 'hit via Redis, near copy', fromRedis: 'hit read from Redis' } as const;

export function checkReplicasOptions(o: ReplicasOptions): void {
  checkFleetOptions(o.fleet);
  if (!Number.isInteger(o.replicas) || o.replicas < REPLICAS_LIMITS.min || o.replicas > REPLICAS_LIMITS.max) {
    throw new RangeError(`replicas must be an integer in ${REPLICAS_LIMITS.min}..${REPLICAS_LIMITS.max}, got ${o.replicas}`);
  }
}

export async function runReplicas(options: ReplicasOptions): Promise<ReplicasReport> {
  checkReplicasOptions(options);
  const redis = await startTestRedis();
  try {
    options.progress?.(`  (a) fleet: one replica vs ${options.replicas} sharing Redis, ${options.fleet.durationMs / 1000} s`);
    const fleet = await runReplicaFleet(options, redis);
    redis.cli('FLUSHALL');
    options.progress?.('  (b) cache hits, one connection: via Redis with a near copy, read from Redis, in process');
    const [hitNearCopy, hitFromRedis] = await runHitComparison(options, redis);
    return { fleet, hitNearCopy: hitNearCopy!, hitFromRedis: hitFromRedis! };
  } finally {
    await redis.close();
  }
}

async function runReplicaFleet(options: ReplicasOptions, redis: TestRedis): Promise<ReplicaFleetReport> {
  const fleetOptions = { ...options.fleet, progress: options.progress };
  const { startMs, dashboards, schedule, rateLimits, simA, simB } = await prepareFleetRun(fleetOptions);
  const gateways: Gateway[] = [];
  const sides: Side[] = [];
  try {
    const single = await startGateway(simA.url, fleetOptions.dashboards);
    gateways.push(single);
    const replicas: Gateway[] = [];
    for (let i = 0; i < options.replicas; i++) replicas.push(await startGateway(simB.url, fleetOptions.dashboards, { redisUrl: redis.url }));
    gateways.push(...replicas);
    // The boot key checks are not dashboard traffic: both sides start with nothing counted or spent.
    for (const sim of [simA, simB]) {
      sim.resetRequests();
      sim.rateLimit.reset();
    }
    const connections = Math.min(fleetOptions.dashboards, MAX_CLIENT_CONNECTIONS);
    const singleSide = viaGateway(single, connections, fleetOptions.panelTimeoutMs);
    const fleetSide = roundRobin(replicas.map((g) => viaGateway(g, Math.ceil(connections / replicas.length), fleetOptions.panelTimeoutMs)));
    sides.push(singleSide, fleetSide);

    const [singleRecorder, fleetRecorder] = [new Recorder(), new Recorder()];
    const elapsedMs = await playSchedule(fleetOptions, dashboards, schedule, [
      { label: 'one replica', side: singleSide, recorder: singleRecorder, sim: simA },
      { label: `${options.replicas} replicas`, side: fleetSide, recorder: fleetRecorder, sim: simB },
    ]);
    const singleReport = singleRecorder.report(upstreamOf(simA), fleetOptions.durationMs);
    const fleetReport = fleetRecorder.report(upstreamOf(simB), fleetOptions.durationMs);
    const callRatio = ratio(fleetReport.upstream.total, singleReport.upstream.total);
    const callRatioMet = callRatio <= TARGET_CALL_RATIO;
    const zero5xx = fleetReport.status5xx === 0;
    return {
      options: { ...withoutProgress(fleetOptions), rateLimits },
      startedAt: new Date(startMs).toISOString(),
      elapsedMs,
      mixSummary: summarizeMix(dashboards, fleetOptions.mix),
      refreshes: schedule.length,
      ...budgetFacts(rateLimits, startMs, startMs + elapsedMs),
      replicas: options.replicas,
      single: singleReport,
      fleet: fleetReport,
      callRatio,
      target: { callRatio: TARGET_CALL_RATIO, callRatioMet, zero5xx, met: callRatioMet && zero5xx },
    };
  } finally {
    for (const side of sides) await side.close();
    for (const gateway of gateways) await gateway.close();
    await simA.close();
    await simB.close();
  }
}

/** Each request to the next replica: a load balancer without stickiness. */
function roundRobin(replicas: readonly Side[]): Side {
  let next = 0;
  return {
    send: (panel, dashboard) => replicas[next++ % replicas.length]!.send(panel, dashboard),
    async close() {
      for (const side of replicas) await side.close();
    },
  };
}

/**
 * The overhead benchmark's hit run against a server without Redis, one with Redis as it ships and
 * one with Redis and no near copies, in the same rounds.
 */
async function runHitComparison(options: ReplicasOptions, redis: TestRedis): Promise<Comparison[]> {
  const scratch = mkdtempSync(join(tmpdir(), 'tinkr-bench-replicas-'));
  const started: Array<{ close(): Promise<void> }> = [];
  const keep = <T extends { close(): Promise<void> }>(p: T): T => (started.push(p), p);
  try {
    const tokens = Array.from({ length: OVERHEAD_CALLERS }, (_, i) => `tinkr-bench-caller-${i}`);
    const sim = keep(await startSimulatorProcess({ logs: UNLIMITED, spans: UNLIMITED, metrics: UNLIMITED }));
    const env = await gatewayEnv(sim.url, tokens, scratch);
    const inProcess = keep(await startGatewayProcess(env, join(scratch, 'access-memory.log')));
    const nearCopy = keep(await startGatewayProcess({ ...(await gatewayEnv(sim.url, tokens, scratch)), TINKR_REDIS_URL: redis.url }, join(scratch, 'access-redis.log')));
    // A database of its own: neither Redis server shares the other's answers or quota counts.
    const fromRedis = keep(
      await startGatewayProcess({ ...(await gatewayEnv(sim.url, tokens, scratch)), TINKR_REDIS_URL: inDatabase(redis.url, 1) }, join(scratch, 'access-redis-far.log'), ['--no-near-copies']),
    );
    // One request each first: every measured request is then a hit (or, past a bucket roll, stale).
    for (const server of [inProcess, nearCopy, fromRedis]) {
      const response = await fetch(`${server.url}${panelPath(OVERHEAD_PANEL)}`, { headers: { authorization: `Bearer ${tokens[0]}` } });
      await response.body?.cancel();
      if (response.status !== 200) throw new Error(`the server answered the panel with ${response.status}`);
    }
    // The contenders run one at a time: the GETs Redis served during a run are that server's.
    const redisGets = async (): Promise<number> => getCalls(redis.cli('INFO', 'commandstats'));
    const target = { kind: 'gateway', panel: OVERHEAD_PANEL, tokens, noCache: false, unique: false } as const;
    const memoryHit: Contender = { label: HIT_LABELS.inProcess, url: inProcess.url, target, process: inProcess, sim };
    const nearHit: Contender = { label: HIT_LABELS.nearCopy, url: nearCopy.url, target, process: nearCopy, sim, redisGets };
    const farHit: Contender = { label: HIT_LABELS.fromRedis, url: fromRedis.url, target, process: fromRedis, sim, redisGets };
    return await compareEach({ ...options.hit, ...(options.progress ? { progress: options.progress } : {}) }, 1, [nearHit, farHit], memoryHit);
  } finally {
    for (const p of started.reverse()) await p.close().catch(() => {});
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** `url` with its database number set to `db`. */
function inDatabase(url: string, db: number): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

/** The GET commands Redis has served since it started, from `INFO commandstats` (`cmdstat_get:calls=N,...`). */
export function getCalls(commandstats: string): number {
  const match = /^cmdstat_get:calls=(\d+)/m.exec(commandstats);
  return match ? Number(match[1]) : 0;
}
