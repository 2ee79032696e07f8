import { ENVS, SERVICE_NAMES, SERVICES, ROUTES, type Env, type ServiceName } from '../data/catalog.ts';
import { hashInts, hashString, unit } from '../data/hash.ts';
import type { MetricUnit } from '../wire.ts';

/**
 * The metric estate: which time series exist and their values, a pure function of
 * (metric, tag set, point time, interval). Values follow a daily cycle with deterministic noise,
 * and about one point in NULL_EVERY is missing (a gap, as a real intake hiccup leaves).
 */

export const UNITS = {
  request: { family: 'network', name: 'request', plural: 'requests', short_name: 'req', scale_factor: 1 },
  second: { family: 'time', name: 'second', plural: 'seconds', short_name: 's', scale_factor: 1 },
  percent: { family: 'percentage', name: 'percent', plural: 'percent', short_name: '%', scale_factor: 1 },
  byte: { family: 'bytes', name: 'byte', plural: 'bytes', short_name: 'B', scale_factor: 1 },
} as const satisfies Record<string, MetricUnit>;

/** One point in this many is null: visible gaps without starving short ranges. */
export const NULL_EVERY = 53;
const DAY_MS = 86_400_000;

export interface SeriesDef {
  readonly tags: readonly string[];
  readonly tagMap: Readonly<Record<string, string>>;
  readonly key: number;
  readonly service: ServiceName;
  /** Index of the route within its service, or -1 for host- and task-level series. */
  readonly route: number;
}

export interface MetricDef {
  readonly name: string;
  readonly unit: MetricUnit;
  /** Counts add up over an interval (hits, errors); gauges average (latency, cpu). */
  readonly kind: 'count' | 'gauge';
  readonly series: readonly SeriesDef[];
  /** Per-second rate (counts) or level (gauges) of a series around `ms`. */
  readonly level: (series: SeriesDef, ms: number, intervalS: number) => number;
}

/** Datadog's tag normalisation of a resource name: `POST /charge` → `post_/charge`. */
export function resourceTag(route: string): string {
  return route.toLowerCase().replace(/[{}]/g, '_').replace(/ /g, '_');
}

function makeSeries(tags: Record<string, string>, service: ServiceName, route: number): SeriesDef {
  const list = Object.entries(tags).map(([k, v]) => `${k}:${v}`).sort();
  return { tags: list, tagMap: tags, key: hashString(list.join(',')), service, route };
}

/** One series per (service, env, host, resource): the tag sets of APM trace metrics. */
const requestSeries: readonly SeriesDef[] = SERVICE_NAMES.flatMap((name) =>
  ENVS.flatMap((env) =>
    SERVICES[name].hosts[env].flatMap((host) =>
      ROUTES[name].map((route, index) =>
        makeSeries(
          { service: name, env, host, resource_name: resourceTag(route), version: SERVICES[name].version[env] },
          name,
          index,
        ),
      ),
    ),
  ),
);

/** One series per host. */
const hostSeries: readonly SeriesDef[] = SERVICE_NAMES.flatMap((name) =>
  ENVS.flatMap((env) => SERVICES[name].hosts[env].map((host) => makeSeries({ service: name, env, host }, name, -1))),
);

/**
 * One series per ECS task: each host runs one task of its service, in the env's cluster, tagged
 * as the Datadog agent tags ECS (`cluster_name`, `task_family`) besides `service`, `env`, `host`.
 */
export const ECS_CLUSTER: Readonly<Record<Env, string>> = { prod: 'prod-main', staging: 'staging-main' };
const ecsSeries: readonly SeriesDef[] = SERVICE_NAMES.flatMap((name) =>
  ENVS.flatMap((env) =>
    SERVICES[name].hosts[env].map((host) =>
      makeSeries({ service: name, env, host, cluster_name: ECS_CLUSTER[env], task_family: `${name}-${env}` }, name, -1),
    ),
  ),
);

/** Resident memory per host at rest, in bytes: a Node, a Python and a Go service. */
const BASE_MEMORY: Readonly<Record<ServiceName, number>> = {
  checkout: 1.6 * 1024 ** 3,
  'payments-api': 2.2 * 1024 ** 3,
  ledger: 0.7 * 1024 ** 3,
};
/** Share of the task's memory reservation in use at rest, in percent. */
const BASE_MEMORY_UTILIZATION: Readonly<Record<ServiceName, number>> = { checkout: 58, 'payments-api': 64, ledger: 41 };

/** Requests per second per route at the daily mean. */
const BASE_RATE: Readonly<Record<ServiceName, readonly number[]>> = {
  checkout: [4, 9],
  'payments-api': [4, 1.5],
  ledger: [4, 1.5],
};
/** Mean latency in seconds per route. */
const BASE_LATENCY: Readonly<Record<ServiceName, readonly number[]>> = {
  checkout: [0.18, 0.012],
  'payments-api': [0.09, 0.02],
  ledger: [0.011, 0.006],
};

/** Traffic over the day: 0.6× at night to 1.4× in the afternoon (UTC). */
function daily(ms: number): number {
  return 1 + 0.4 * Math.sin((2 * Math.PI * (ms % DAY_MS)) / DAY_MS - Math.PI / 2);
}

function noise(series: SeriesDef, salt: number, ms: number, intervalS: number, spread: number): number {
  return 1 - spread + 2 * spread * unit(hashInts(series.key, salt, ms, intervalS));
}

function stagingFactor(series: SeriesDef): number {
  return series.tagMap['env'] === 'staging' ? 0.1 : 1;
}

function hitsRate(series: SeriesDef, ms: number, intervalS: number): number {
  return BASE_RATE[series.service][series.route]! * stagingFactor(series) * daily(ms) * noise(series, 1, ms, intervalS, 0.15);
}

/** CPU follows traffic: busier in the afternoon, a tenth of it in staging. */
function cpuPercent(series: SeriesDef, salt: number, base: number, ms: number, intervalS: number): number {
  return Math.min(100, base * daily(ms) * stagingFactor(series) ** 0.3 * noise(series, salt, ms, intervalS, 0.3));
}

/**
 * Memory grows slowly through each day (caches fill) and drops at the daily deploy at 02:00 UTC,
 * with a little noise: the sawtooth a real service's memory graph shows.
 */
function memoryGrowth(ms: number): number {
  const sinceDeploy = (((ms - 2 * 3_600_000) % DAY_MS) + DAY_MS) % DAY_MS;
  return 1 + 0.25 * (sinceDeploy / DAY_MS);
}

/** Error ratio: about 2%, with an incident hour (20%) once a day per series. */
function errorRatio(series: SeriesDef, ms: number): number {
  const hour = Math.floor(ms / 3_600_000);
  return hashInts(series.key, 2, hour) % 24 === 0 ? 0.2 : 0.02;
}

const hits: MetricDef = {
  name: 'trace.web.request.hits',
  unit: UNITS.request,
  kind: 'count',
  series: requestSeries,
  level: hitsRate,
};

export const METRICS: readonly MetricDef[] = [
  hits,
  // Not a real Datadog metric name, but the one tinkr-server's docs/http-api.md#get-metrics uses in its examples: served as hits.
  { ...hits, name: 'trace.web.request' },
  {
    name: 'trace.web.request.errors',
    unit: UNITS.request,
    kind: 'count',
    series: requestSeries,
    level: (s, ms, iv) => hitsRate(s, ms, iv) * errorRatio(s, ms),
  },
  {
    name: 'trace.web.request.duration',
    unit: UNITS.second,
    kind: 'gauge',
    series: requestSeries,
    level: (s, ms, iv) => BASE_LATENCY[s.service][s.route]! * (0.8 + 0.4 * daily(ms) / 1.4) * noise(s, 3, ms, iv, 0.25),
  },
  {
    name: 'system.cpu.user',
    unit: UNITS.percent,
    kind: 'gauge',
    series: hostSeries,
    level: (s, ms, iv) => cpuPercent(s, 4, 35, ms, iv),
  },
  {
    name: 'system.mem.used',
    unit: UNITS.byte,
    kind: 'gauge',
    series: hostSeries,
    level: (s, ms, iv) => Math.round(BASE_MEMORY[s.service] * stagingFactor(s) ** 0.2 * memoryGrowth(ms) * noise(s, 5, ms, iv, 0.03)),
  },
  {
    name: 'aws.ecs.cpuutilization',
    unit: UNITS.percent,
    kind: 'gauge',
    series: ecsSeries,
    level: (s, ms, iv) => cpuPercent(s, 6, 28, ms, iv),
  },
  {
    name: 'aws.ecs.memory_utilization',
    unit: UNITS.percent,
    kind: 'gauge',
    series: ecsSeries,
    level: (s, ms, iv) => Math.min(100, BASE_MEMORY_UTILIZATION[s.service] * memoryGrowth(ms) * noise(s, 7, ms, iv, 0.04)),
  },
];

export function findMetric(name: string): MetricDef | undefined {
  return METRICS.find((m) => m.name === name);
}

/**
 * Whether the points of `metric` at `ms` are a gap. Gaps hit every series of the metric at once
 * (an intake hiccup), so they survive space aggregation and show in every query.
 */
export function isGap(metric: MetricDef, ms: number, intervalS: number): boolean {
  return hashInts(hashString(metric.name), ms, intervalS) % NULL_EVERY === 0;
}
