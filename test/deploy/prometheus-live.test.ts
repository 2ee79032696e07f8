import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiKeys } from '../../src/simulator/index.ts';
import { type RunningCli, type Scratch, scratchDirs, startCli } from '../helpers/cli.ts';
import { eventually } from '../helpers/eventually.ts';
import { freePort } from '../helpers/free-port.ts';
import { dashboardExpressions, dashboardVariables, JOB, loadAlertRules, loadDashboard, RULES_FILE, VARIABLE_VALUES } from '../helpers/operator-kit.ts';
import { awsSecretLines, secretsProfileToml } from '../helpers/profile-file.ts';
import { scrape, valueOf } from '../helpers/prometheus.ts';
import { type PrometheusServer, startPrometheus } from '../helpers/prometheus-server.ts';
import { selectors, substituteVariables, thresholdFreeParts } from '../helpers/promql.ts';
import { startTestSimulator, type TestSimulator } from '../helpers/simulator.ts';
import { type AwsSecretsManagerFake, startAwsSecretsManager } from '../secrets/fakes/aws.ts';
import { offlineDefaults } from '../secrets/helpers/env.ts';

/**
 * The operator kit against the real thing: two `tinkr-server` processes in front of the
 * simulator (keys from the AWS Secrets Manager fake), one serving and one shedding every request
 * (its RSS ceiling is 1 byte), scraped by a real Prometheus that loads deploy/'s alert rules.
 * After traffic that makes every kind of series (misses, hits, coalescing, a Datadog 500, 403
 * and 429, a failed secret re-read, the budget gate refusing, callers' 401 and 404, shedding),
 * every query of the dashboard and of the alerts must return data through Prometheus' HTTP API.
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

let sim: TestSimulator;
let aws: AwsSecretsManagerFake;
let serving: RunningCli;
let shedding: RunningCli;
let prometheus: PrometheusServer;
const scratches: Scratch[] = [];
const rules = loadAlertRules();
const dashboard = loadDashboard();

/** `tinkr-server` as deployed: keys from the secret manager, self-metrics on `metricsPort`. */
async function startServer(metricsPort: number, server: string[]): Promise<RunningCli> {
  const scratch = scratchDirs('tinkr-kit-');
  scratches.push(scratch);
  scratch.write(
    'home/.tinkr/config.toml',
    secretsProfileToml({ apiUrl: sim.url, caller: { token: TOKEN, subject: 'kit' }, server, secrets: awsSecretLines(SECRET_ID, aws.url, 10_000) }),
  );
  const env = {
    ...offlineDefaults(scratch.home),
    AWS_ACCESS_KEY_ID: 'AKIDOPERATORKIT',
    AWS_SECRET_ACCESS_KEY: 'operator-kit-secret-access-key',
    HOST: '127.0.0.1',
    PORT: '0',
    TINKR_METRICS_PORT: String(metricsPort),
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

/** Traffic that makes every kind of series the kit reads. */
async function driveTraffic(): Promise<void> {
  for (const path of QUERIES) {
    const first = await get(path);
    expect([first.status, cacheOf(first)], path).toEqual([200, 'miss']);
    const second = await get(path);
    expect([second.status, cacheOf(second)], path).toEqual([200, 'hit']);
  }

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
}

/** Waits until Prometheus holds both servers' counters as they are now, and has evaluated every rule since. */
async function untilPrometheusHasIt(): Promise<void> {
  const requests = valueOf(await scrape(metricsUrl(serving)), 'tinkr_http_requests_total');
  const shed = valueOf(await scrape(metricsUrl(shedding)), 'tinkr_http_requests_shed_total', { reason: 'rss' });
  expect(shed).toBeGreaterThan(0);
  const sum = async (expr: string) => (await prometheus.query(expr))[0]?.value ?? 0;
  await eventually(
    async () =>
      (await sum(`sum(tinkr_http_requests_total{instance="${target(serving)}"})`)) >= requests &&
      (await sum(`sum(tinkr_http_requests_shed_total{instance="${target(shedding)}"})`)) >= shed,
    'prometheus scraped both servers after the traffic',
    PROMETHEUS_WAIT_MS,
    POLL_MS,
  );
  const scrapedAt = Date.now();
  await eventually(
    async () => {
      const loaded = (await ruleStates()).filter((r) => r.type === 'alerting');
      return loaded.length === rules.length && loaded.every((r) => Date.parse(r.lastEvaluation) > scrapedAt);
    },
    'prometheus evaluated every rule on that data',
    PROMETHEUS_WAIT_MS,
    POLL_MS,
  );
}

interface RuleState {
  name: string;
  type: string;
  health: string;
  lastError?: string;
  lastEvaluation: string;
}

async function ruleStates(): Promise<RuleState[]> {
  return (await prometheus.api<{ groups: Array<{ rules: RuleState[] }> }>('/api/v1/rules')).groups.flatMap((g) => g.rules);
}

/**
 * The selectors of `expr` (with their label matchers) that match no series: a misspelt label
 * value, which `or vector(0)` or a ratio's other side could otherwise hide.
 */
async function unmatchedSelectors(where: string, expr: string): Promise<string[]> {
  const found = selectors(expr);
  if (found.length === 0) return [`${where}: no selector in ${expr}`];
  const unmatched: string[] = [];
  for (const selector of found) if ((await prometheus.query(selector)).length === 0) unmatched.push(`${where}: ${selector}`);
  return unmatched;
}

/** Why `expr` shows nothing, or undefined when it returns at least one finite value. */
async function noData(expr: string): Promise<string | undefined> {
  const samples = await prometheus.query(expr);
  if (samples.some((s) => Number.isFinite(s.value))) return undefined;
  return samples.length === 0 ? 'no series' : `only ${samples.map((s) => s.value).join(', ')}`;
}

beforeAll(async () => {
  sim = await startTestSimulator({ keys: SIM_KEYS, rateLimits: { spans: { limit: SPANS_LIMIT, periodS: 3_600 } } });
  aws = await startAwsSecretsManager({ region: 'eu-west-1' });
  aws.put(SECRET_ID, JSON.stringify({ DD_API_KEY: SIM_KEYS.apiKey, DD_APP_KEY: SIM_KEYS.appKey }));
  const servingPort = await freePort();
  let sheddingPort = await freePort();
  while (sheddingPort === servingPort) sheddingPort = await freePort();
  [serving, shedding] = await Promise.all([startServer(servingPort, []), startServer(sheddingPort, ['max_rss_bytes = 1'])]);
  // Both have had their keys accepted (read on the metrics port: the shedding one answers 503 on
  // every API route), so no boot key check meets the faults planted below.
  for (const cli of [serving, shedding]) {
    await eventually(async () => valueOf(await scrape(metricsUrl(cli)), 'tinkr_datadog_keys_status', { status: 'ok' }) === 1, 'Datadog accepted the keys', PROMETHEUS_WAIT_MS, POLL_MS);
  }
  prometheus = await startPrometheus({ job: JOB, targets: [target(serving), target(shedding)], ruleFiles: [RULES_FILE] });
  // A first scrape of both before the traffic, so rate() and increase() see the counters move.
  await eventually(async () => (await prometheus.query(`up{job="${JOB}"} == 1`)).length === 2, 'prometheus scraped both servers', PROMETHEUS_WAIT_MS, POLL_MS);
  await driveTraffic();
  await untilPrometheusHasIt();
}, 300_000);

afterAll(async () => {
  await prometheus?.close();
  await Promise.all([serving?.stop(), shedding?.stop()]);
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
      const why = await noData(substituteVariables(expr, VARIABLE_VALUES));
      if (why) empty.push(`${where}: ${why}\n  ${expr}`);
    }
    expect(empty).toEqual([]);
  });

  it('matches series with every selector of every panel query, label matchers included', async () => {
    const unmatched: string[] = [];
    for (const { where, expr } of dashboardExpressions(dashboard)) unmatched.push(...(await unmatchedSelectors(where, substituteVariables(expr, VARIABLE_VALUES))));
    expect(unmatched).toEqual([]);
  });
});

describe('the alert rules against a real Prometheus', () => {
  it('are all loaded and evaluated without error', async () => {
    const states = await ruleStates();
    expect(states.map((r) => r.name).sort()).toEqual(rules.map((r) => r.alert).sort());
    for (const state of states) expect({ rule: state.name, health: state.health, error: state.lastError ?? '' }).toEqual({ rule: state.name, health: 'ok', error: '' });
  });

  it('get data for every threshold-free part of every alert', async () => {
    const empty: string[] = [];
    for (const rule of rules) {
      const parts = thresholdFreeParts(rule.expr);
      expect(parts.length, rule.alert).toBeGreaterThan(0);
      for (const part of parts) {
        const why = await noData(part);
        if (why) empty.push(`${rule.alert}: ${why}\n  ${part}`);
      }
    }
    expect(empty).toEqual([]);
  });

  it('match series with every selector of every alert, label matchers included', async () => {
    const unmatched: string[] = [];
    for (const rule of rules) unmatched.push(...(await unmatchedSelectors(`alert ${rule.alert}`, rule.expr)));
    expect(unmatched).toEqual([]);
  });

  it('put the budget alert on the spent spans limit (pending: its for is 15m)', async () => {
    const alerts = await prometheus.query('ALERTS{alertname="TinkrDatadogBudgetLow", name="spans_list"}');
    expect(alerts.map((a) => a.metric.alertstate)).toEqual(['pending']);
    expect(alerts[0]?.metric.instance).toBe(target(serving));
  });
});
