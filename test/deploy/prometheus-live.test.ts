import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiKeys } from '@tinkr/datadog-simulator';
import { type RunningCli, type Scratch, scratchDirs, startCli } from '../helpers/cli.ts';
import { eventually } from '../helpers/eventually.ts';
import { freePort } from '../helpers/free-port.ts';
import { noData, panelValues, ruleStates, unmatchedSelectors } from '../helpers/kit-prometheus.ts';
import {
  dashboardExpressions,
  dashboardPanels,
  dashboardVariables,
  exportedLabelValues,
  JOB,
  loadAlertRules,
  loadDashboard,
  RULES_FILE,
  VARIABLE_VALUES,
} from '../helpers/operator-kit.ts';
import { awsSecretLines, secretsProfileToml } from '../helpers/profile-file.ts';
import { scrape, valueOf } from '../helpers/prometheus.ts';
import { type PrometheusServer, startPrometheus } from '../helpers/prometheus-server.ts';
import { substituteVariables, thresholdFreeParts } from '../helpers/promql.ts';
import { startTestRedis, TEST_STORE_TIMEOUT_MS, type TestRedis } from '../helpers/redis-server.ts';
import { startTestSimulator, type TestSimulator } from '../helpers/simulator.ts';
import { openSse, type SseClient } from '../helpers/sse.ts';
import { type AwsSecretsManagerFake, startAwsSecretsManager } from '../secrets/fakes/aws.ts';
import { offlineDefaults } from '../secrets/helpers/env.ts';

/**
 * The operator kit against the real thing: two `tinkr-server` processes in front of the
 * simulator (keys from the AWS Secrets Manager fake), one serving with a shared store on a real
 * Redis and one shedding every request (its RSS ceiling is 1 byte), scraped by a real
 * Prometheus that loads deploy/'s alert rules. After traffic that makes every kind of series
 * (misses, hits, coalescing, the aggregate families, a Datadog 500, 403 and 429, a failed secret
 * re-read, the budget gate refusing, callers' 401 and 404, shedding, a live tail, then the
 * Redis killed so the store degrades), every query of the dashboard and of the alerts must
 * return data through Prometheus' HTTP API.
 *
 * An alert's expression returns data only while it fires, so each is checked in two ways:
 * - its threshold-free parts (`thresholdFreeParts`: split at and/or/unless, the last comparison
 *   against a number dropped, `absent(x)` read as `x`) must return at least one finite value.
 *   That is the very value the alert compares, so label matching across `/`, `without (…)`
 *   aggregation and histogram buckets are all proven to line up on real series;
 * - each series selector in it, with its label matchers (`outcome=~"401|403"`), must match at
 *   least one series, so no label value is misspelt.
 * Prometheus also evaluates every rule each second; all must report health "ok" on this data.
 */

const TOKEN = 'operator-kit-bearer-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const SIM_KEYS: ApiKeys = { apiKey: 'operator-kit-api-key-5c1e0b', appKey: 'operator-kit-app-key-7d2f4a' };
const SECRET_ID = 'kit/datadog';
/** Three spans calls an hour: a few distinct trace searches spend it and the budget gate refuses the next. */
const SPANS_LIMIT = 3;
/** Holds the first of identical requests upstream long enough for the others to join it on a busy machine. */
const COALESCE_HOLD_MS = 5_000;
/** Bound of every wait on Prometheus (a scrape and a rule evaluation each second; a busy machine). */
const PROMETHEUS_WAIT_MS = 90_000;
/** Poll Prometheus a few times a second, not every 10 ms. */
const POLL_MS = 200;
/** The query routes, each asked twice: a miss, then a hit. */
const QUERIES = ['/logs?service=checkout&since=15m&limit=20', '/metrics?metric=system.cpu.user&service=checkout&since=1h', '/traces?service=checkout&since=15m&limit=5'];
/** A call of each aggregate family (dashboard analytics); two rounds (distinct ranges) give their rates and latencies a value. */
const aggregates = (since: string) => [`/logs/aggregate?service=checkout&group_by=status&interval=1m&since=${since}`, `/traces/aggregate?service=checkout&interval=1m&since=${since}`];
/** A live tail with a few lines of backfill, so it sends log events at once. */
const TAIL = '/logs/tail?service=checkout&limit=5';

let sim: TestSimulator;
let aws: AwsSecretsManagerFake;
let redis: TestRedis;
let tail: SseClient | undefined;
let serving: RunningCli;
let shedding: RunningCli;
let prometheus: PrometheusServer;
const scratches: Scratch[] = [];
const rules = loadAlertRules();
const dashboard = loadDashboard();
const panels = dashboardPanels(dashboard);
/** What the panel titled `title` shows now. */
const panel = (title: string) => {
  const found = panels.find((p) => p.title === title);
  if (!found) throw new Error(`the dashboard has no panel "${title}"`);
  return panelValues(prometheus, found.targets);
};

/** `tinkr-server` as deployed: keys from the secret manager, self-metrics on `metricsPort`, a shared store when `redisUrl` is given. */
async function startServer(metricsPort: number, server: string[], redisUrl?: string): Promise<RunningCli> {
  const scratch = scratchDirs('tinkr-kit-');
  scratches.push(scratch);
  const store = redisUrl ? `[store]\nurl = "env:TINKR_REDIS_URL"\ntimeout_ms = ${TEST_STORE_TIMEOUT_MS}` : undefined;
  scratch.write(
    'home/.tinkr/config.toml',
    secretsProfileToml({ apiUrl: sim.url, caller: { token: TOKEN, subject: 'kit' }, server, extra: store, secrets: awsSecretLines(SECRET_ID, aws.url, 10_000) }),
  );
  const env = {
    ...offlineDefaults(scratch.home),
    AWS_ACCESS_KEY_ID: 'AKIDOPERATORKIT',
    AWS_SECRET_ACCESS_KEY: 'operator-kit-secret-access-key',
    HOST: '127.0.0.1',
    PORT: '0',
    TINKR_METRICS_PORT: String(metricsPort),
    ...(redisUrl ? { TINKR_REDIS_URL: redisUrl } : {}),
  };
  return startCli([], { scratch, env });
}

const metricsUrl = (cli: RunningCli) => String(cli.listening.metrics_url);
const target = (cli: RunningCli) => new URL(metricsUrl(cli)).host;
const get = (path: string) => fetch(`${serving.url}${path}`, { headers: AUTH });
const cacheOf = (res: Response) => res.headers.get('x-tinkr-cache');

/** Waits until the serving server's own metrics show `value` for a series (the effect happened). */
async function untilServing(name: string, labels: Record<string, string>, atLeast: number): Promise<void> {
  await eventually(async () => valueOf(await scrape(metricsUrl(serving)), name, labels) >= atLeast, `${name} ${JSON.stringify(labels)} reaches ${atLeast}`, PROMETHEUS_WAIT_MS, POLL_MS);
}

/** The serving server's own value of a series now. */
const servingValue = async (name: string, labels: Record<string, string> = {}) => valueOf(await scrape(metricsUrl(serving)), name, labels);

/** Traffic that makes every kind of series the kit reads. */
async function driveTraffic(): Promise<void> {
  for (const path of QUERIES) {
    const first = await get(path);
    expect([first.status, cacheOf(first)], path).toEqual([200, 'miss']);
    const second = await get(path);
    expect([second.status, cacheOf(second)], path).toEqual([200, 'hit']);
  }
  for (const path of aggregates('15m')) expect((await get(path)).status, path).toBe(200);

  // Identical requests while the first one's Datadog call is held: they join it.
  const together = '/logs?service=checkout&since=15m&limit=30';
  sim.faults.add({ kind: 'latency', delayMs: COALESCE_HOLD_MS, endpoint: 'logs' });
  const before = sim.callCount('logs');
  const leader = get(together);
  await eventually(() => sim.callCount('logs') > before, 'the first request called Datadog');
  const followers = await Promise.all([get(together), get(together)]);
  expect(followers.map(cacheOf)).toEqual(['coalesced', 'coalesced']);
  expect(cacheOf(await leader)).toBe('miss');

  // Datadog failing: every attempt answered 500, the caller 502.
  sim.faults.add({ kind: 'status', status: 500, endpoint: 'metrics', times: 'always' });
  expect((await get('/metrics?metric=system.cpu.user&service=checkout&since=2h')).status).toBe(502);
  sim.faults.clear();

  // Datadog refusing the keys once, and the secret manager failing the re-read that follows.
  aws.fail(SECRET_ID, 'server_error');
  sim.faults.add({ kind: 'status', status: 403, endpoint: 'logs' });
  await get('/logs?service=checkout&since=30m&limit=7');
  await untilServing('tinkr_secrets_refreshes_total', { outcome: 'failed' }, 1);
  aws.fail(SECRET_ID, undefined);
  sim.faults.clear();

  // Distinct trace searches until the spans budget is spent and the gate refuses.
  let refused: Response | undefined;
  for (let limit = 1; limit <= 2 * SPANS_LIMIT + 2 && !refused; limit++) {
    const res = await get(`/traces?service=checkout&since=15m&limit=${limit}`);
    if (res.status === 429) refused = res;
    else expect(res.status).toBe(200);
  }
  expect(refused?.status).toBe(429);
  await untilServing('tinkr_budget_gate_total', { family: 'spans', outcome: 'exhausted' }, 1);

  // Datadog's own 429 (something else spent the budget); its reset is a second away.
  sim.faults.add({ kind: 'status', status: 429, endpoint: 'metrics', resetS: 1 });
  await get('/metrics?metric=system.cpu.user&service=checkout&since=4h');
  await untilServing('tinkr_upstream_requests_total', { family: 'metrics', outcome: '429' }, 1);
  sim.faults.clear();

  // Callers' mistakes.
  expect((await fetch(`${serving.url}/logs?since=15m`)).status).toBe(401);
  expect((await get('/no-such-route')).status).toBe(404);

  // The other replica refuses work once its first pressure sample is in.
  await eventually(async () => (await fetch(`${shedding.url}/health`)).status === 503, 'the replica sheds load', PROMETHEUS_WAIT_MS, POLL_MS);

  // The aggregate families once more, after Prometheus has their first calls: a series that
  // appears with its first call has no earlier sample, so only a second call makes a rate.
  await eventually(
    async () => (await prometheus.query('count(count by (family) (tinkr_upstream_requests_total{family=~".+_aggregate"}))'))[0]?.value === 2,
    'prometheus scraped the first aggregate calls',
    PROMETHEUS_WAIT_MS,
    POLL_MS,
  );
  for (const path of aggregates('30m')) expect((await get(path)).status, path).toBe(200);

  // A viewer on a live tail, left open: one stream polling Datadog, log events sent.
  tail = await openSse(`${serving.url}${TAIL}`, { headers: AUTH });
  expect(tail.status).toBe(200);
  await tail.until((c) => c.logIds().length > 0, 'the tail sent a log', PROMETHEUS_WAIT_MS);
  await untilServing('tinkr_tail_polls_total', {}, 1);
  await untilServing('tinkr_tail_events_total', { event: 'log' }, 1);

  // Redis gone: the serving replica carries on with its own state, and says so.
  await redis.kill();
  await eventually(async () => (await servingValue('tinkr_store_up')) === 0, 'the replica sees its store degraded', PROMETHEUS_WAIT_MS, POLL_MS);
}

/** Waits until Prometheus holds both servers' counters as they are now, and has evaluated every rule since. */
async function untilPrometheusHasIt(): Promise<void> {
  const requests = await servingValue('tinkr_http_requests_total');
  const polls = await servingValue('tinkr_tail_polls_total');
  const shed = valueOf(await scrape(metricsUrl(shedding)), 'tinkr_http_requests_shed_total', { reason: 'rss' });
  expect(shed).toBeGreaterThan(0);
  const sum = async (expr: string) => (await prometheus.query(expr))[0]?.value ?? 0;
  await eventually(
    async () =>
      (await sum(`sum(tinkr_http_requests_total{instance="${target(serving)}"})`)) >= requests &&
      (await sum(`sum(tinkr_tail_polls_total{instance="${target(serving)}"})`)) >= polls &&
      (await prometheus.query(`tinkr_store_up{instance="${target(serving)}"} == 0`)).length === 1 &&
      (await sum(`sum(tinkr_http_requests_shed_total{instance="${target(shedding)}"})`)) >= shed,
    'prometheus scraped both servers after the traffic',
    PROMETHEUS_WAIT_MS,
    POLL_MS,
  );
  const scrapedAt = Date.now();
  await eventually(
    async () => {
      const loaded = (await ruleStates(prometheus)).filter((r) => r.type === 'alerting');
      return loaded.length === rules.length && loaded.every((r) => Date.parse(r.lastEvaluation) > scrapedAt);
    },
    'prometheus evaluated every rule on that data',
    PROMETHEUS_WAIT_MS,
    POLL_MS,
  );
}

beforeAll(async () => {
  sim = await startTestSimulator({ keys: SIM_KEYS, rateLimits: { spans: { limit: SPANS_LIMIT, periodS: 3_600 } } });
  aws = await startAwsSecretsManager({ region: 'eu-west-1' });
  aws.put(SECRET_ID, JSON.stringify({ DD_API_KEY: SIM_KEYS.apiKey, DD_APP_KEY: SIM_KEYS.appKey }));
  redis = await startTestRedis();
  const servingPort = await freePort();
  let sheddingPort = await freePort();
  while (sheddingPort === servingPort) sheddingPort = await freePort();
  [serving, shedding] = await Promise.all([startServer(servingPort, [], redis.url), startServer(sheddingPort, ['max_rss_bytes = 1'])]);
  // Both have had their keys accepted (read on the metrics port: the shedding one answers 503 on
  // every API route), so no boot key check meets the faults planted below.
  for (const cli of [serving, shedding]) {
    await eventually(async () => valueOf(await scrape(metricsUrl(cli)), 'tinkr_datadog_keys_status', { status: 'ok' }) === 1, 'Datadog accepted the keys', PROMETHEUS_WAIT_MS, POLL_MS);
  }
  // The serving one shares its state through Redis before Prometheus first scrapes it.
  await eventually(async () => (await servingValue('tinkr_store_up')) === 1, 'the replica shares its state through Redis', PROMETHEUS_WAIT_MS, POLL_MS);
  prometheus = await startPrometheus({ job: JOB, targets: [target(serving), target(shedding)], ruleFiles: [RULES_FILE] });
  // A first scrape of both before the traffic, so rate() and increase() see the counters move.
  await eventually(async () => (await prometheus.query(`up{job="${JOB}"} == 1`)).length === 2, 'prometheus scraped both servers', PROMETHEUS_WAIT_MS, POLL_MS);
  await driveTraffic();
  await untilPrometheusHasIt();
}, 300_000);

afterAll(async () => {
  await prometheus?.close();
  // The server ends the open tail as at any shutdown (`event: end`), then the viewer hangs up.
  await Promise.all([serving?.stop(), shedding?.stop()]);
  tail?.close();
  await redis?.close();
  await aws?.close();
  sim?.assertNoViolations();
  await sim?.close();
  for (const s of scratches) s.cleanup();
}, 60_000);

describe('the dashboard against a real Prometheus', () => {
  it("finds the job and both instances with Grafana's variable queries", async () => {
    const found: Record<string, string[]> = {};
    for (const v of dashboardVariables(dashboard).queries) {
      const params: Record<string, string> = v.selector ? { 'match[]': substituteVariables(v.selector, VARIABLE_VALUES) } : {};
      found[v.name] = await prometheus.api<string[]>(`/api/v1/label/${v.label}/values`, params);
    }
    expect(found.job).toEqual([JOB]);
    expect(found.instance?.sort()).toEqual([target(serving), target(shedding)].sort());
  });

  it('gets data for every panel query', async () => {
    const queries = dashboardExpressions(dashboard);
    expect(queries.length).toBeGreaterThan(20);
    const empty: string[] = [];
    for (const { where, expr } of queries) {
      const why = await noData(prometheus, substituteVariables(expr, VARIABLE_VALUES));
      if (why) empty.push(`${where}: ${why}\n  ${expr}`);
    }
    expect(empty).toEqual([]);
  });

  it('matches series with every selector of every panel query, label matchers included', async () => {
    const unmatched: string[] = [];
    for (const { where, expr } of dashboardExpressions(dashboard)) unmatched.push(...(await unmatchedSelectors(prometheus, where, substituteVariables(expr, VARIABLE_VALUES))));
    expect(unmatched).toEqual([]);
  });

  it("shows each replica's key check as ok (code 1)", async () => {
    expect(await panel('Datadog key check')).toEqual({ [target(serving)]: 1, [target(shedding)]: 1 });
  });

  it('shows the shared store of the serving replica degraded now, after it was up (the other has none)', async () => {
    expect(await panel('Shared store (Redis)')).toEqual({ [target(serving)]: 0 });
    const before = await prometheus.query(`max_over_time(tinkr_store_up{instance="${target(serving)}"}[10m])`);
    expect(before.map((s) => s.value)).toEqual([1]);
  });

  it('shows the live tail: one stream, one viewer, its polls and the logs it sent', async () => {
    const streams = await panel('Live tails and viewers');
    expect(streams).toMatchObject({ [`streams ${target(serving)}`]: 1, [`viewers ${target(serving)}`]: 1 });
    const polls = Object.values(await panel('Tail polls by outcome'));
    expect(polls.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect((await panel('Tail events sent')).log).toBeGreaterThan(0);
  });

  it('shows every family, the aggregate ones included, in each per-family panel not filtered by outcome', async () => {
    const families = await exportedLabelValues('tinkr_budget_gate_total', 'family');
    expect(families).toContain('logs_aggregate');
    let checked = 0;
    for (const { title, targets } of panels) {
      for (const { expr, legendFormat } of targets) {
        if (!legendFormat.includes('{{family}}') || /outcome\s*(=|!)/.test(expr)) continue;
        const samples = await prometheus.query(substituteVariables(expr, VARIABLE_VALUES));
        const shown = new Set(samples.filter((s) => Number.isFinite(s.value)).map((s) => s.metric.family));
        expect(families.filter((f) => !shown.has(f)), `${title}: ${expr}`).toEqual([]);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(4);
  });
});

describe('the alert rules against a real Prometheus', () => {
  it('are all loaded and evaluated without error', async () => {
    const states = await ruleStates(prometheus);
    expect(states.map((r) => r.name).sort()).toEqual(rules.map((r) => r.alert).sort());
    for (const state of states) expect({ rule: state.name, health: state.health, error: state.lastError ?? '' }).toEqual({ rule: state.name, health: 'ok', error: '' });
  });

  it('get data for every threshold-free part of every alert', async () => {
    const empty: string[] = [];
    for (const rule of rules) {
      const parts = thresholdFreeParts(rule.expr);
      expect(parts.length, rule.alert).toBeGreaterThan(0);
      for (const part of parts) {
        const why = await noData(prometheus, part);
        if (why) empty.push(`${rule.alert}: ${why}\n  ${part}`);
      }
    }
    expect(empty).toEqual([]);
  });

  it('match series with every selector of every alert, label matchers included', async () => {
    const unmatched: string[] = [];
    for (const rule of rules) unmatched.push(...(await unmatchedSelectors(prometheus, `alert ${rule.alert}`, rule.expr)));
    expect(unmatched).toEqual([]);
  });

  it('put the budget alert on the spent spans limit (pending: its for is 15m)', async () => {
    const alerts = await prometheus.query('ALERTS{alertname="TinkrDatadogBudgetLow", name="spans_list"}');
    expect(alerts.map((a) => a.metric.alertstate)).toEqual(['pending']);
    expect(alerts[0]?.metric.instance).toBe(target(serving));
  });

  it('put the store alert on the replica whose Redis is gone (pending, or firing on a slow run: its for is 2m)', async () => {
    const alerts = await prometheus.query('ALERTS{alertname="TinkrStoreDegraded"}');
    expect(alerts.map((a) => a.metric.instance)).toEqual([target(serving)]);
    expect(['pending', 'firing']).toContain(alerts[0]?.metric.alertstate);
  });
});
