import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  dashboardExpressions,
  dashboardVariables,
  exportedLabelValues,
  type Json,
  kitExporter,
  loadAlertCases,
  loadAlertRules,
  loadDashboard,
  promtool,
  RULES_DIR,
  RULES_FILE,
  RULES_TEST_FILE,
  VARIABLE_VALUES,
} from '../helpers/operator-kit.ts';
import { metricNames, selectors, substituteVariables } from '../helpers/promql.ts';

/**
 * The operator kit in deploy/ read as files: the dashboard imports anywhere (its data source is
 * a variable), every query it or an alert runs names only metrics the exporter has, and the
 * real promtool accepts the rules and passes their unit tests, in which every alert fires once
 * and stays quiet once. (test/deploy/prometheus-live.test.ts runs them all against a real
 * Prometheus scraping a real server.)
 */

const dashboard = loadDashboard();
const rules = loadAlertRules();
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };
/** Series Prometheus makes itself for every target, not the exporter. */
const PROMETHEUS_SERIES = new Set(['up']);

/**
 * The series names the exporter declares (from its `# TYPE` lines), histogram and summary parts
 * included; the exporter is one with a shared store, which adds `tinkr_store_up`.
 */
async function exporterSeriesNames(): Promise<Set<string>> {
  const text = await kitExporter().metrics();
  const names = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!);
    if (type === 'histogram') for (const part of ['_bucket', '_sum', '_count']) names.add(`${name}${part}`);
    if (type === 'summary') for (const part of ['_sum', '_count']) names.add(`${name}${part}`);
  }
  return names;
}

/** Every object of the document with its path, for structural checks. */
function objects(node: Json, path = '$'): Array<{ path: string; value: { [key: string]: Json } }> {
  if (Array.isArray(node)) return node.flatMap((child, i) => objects(child, `${path}[${i}]`));
  if (node === null || typeof node !== 'object') return [];
  return [{ path, value: node }, ...Object.entries(node).flatMap(([key, child]) => objects(child, `${path}.${key}`))];
}

describe('the Grafana dashboard', () => {
  const queries = dashboardExpressions(dashboard);
  const panels = objects(dashboard.panels ?? null).filter((o) => typeof o.value.type === 'string' && 'gridPos' in o.value);

  it('imports anywhere: no fixed id, a stable uid, every query on the ${datasource} variable', () => {
    expect(dashboard.id).toBeNull();
    expect(dashboard.uid).toBe('tinkr-server');
    const variables = (dashboard.templating as { list: Array<{ [key: string]: Json }> }).list;
    expect(variables.find((v) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    // Every data source reference but Grafana's built-in annotation query is the variable.
    const references = objects(dashboard).filter((o) => 'datasource' in o.value && !o.path.startsWith('$.annotations'));
    expect(references.length).toBeGreaterThan(queries.length);
    for (const { path, value } of references) expect(value.datasource, path).toEqual(DATASOURCE);
  });

  it('has panels with unique ids, a title, a description and at least one query each', () => {
    const ids = panels.map((p) => p.value.id);
    expect(new Set(ids).size).toBe(ids.length);
    const graphs = panels.filter((p) => p.value.type !== 'row');
    expect(graphs.length).toBeGreaterThan(20);
    for (const { value } of graphs) {
      expect(value.title, JSON.stringify(value.gridPos)).toEqual(expect.any(String));
      expect(value.description, String(value.title)).toEqual(expect.stringMatching(/\S/));
      expect((value.targets as Json[]).length, String(value.title)).toBeGreaterThan(0);
    }
  });

  it('covers what an operator asks first: budget per limit, cache, coalescing, Datadog latency and errors, shedding, routes', () => {
    const all = queries.map((q) => q.expr).join('\n');
    for (const metric of [
      'tinkr_datadog_ratelimit_remaining',
      'tinkr_budget_gate_total',
      'tinkr_cache_outcomes_total',
      'tinkr_coalesced_requests_total',
      'tinkr_upstream_request_duration_seconds_bucket',
      'tinkr_upstream_requests_total',
      'tinkr_http_requests_shed_total',
      'tinkr_http_request_duration_seconds_bucket',
      'tinkr_http_requests_total',
      'tinkr_datadog_keys_status',
      'tinkr_store_up',
      'tinkr_upstream_spend_total',
      'tinkr_tail_streams',
      'tinkr_tail_subscribers',
      'tinkr_tail_polls_total',
      'tinkr_tail_events_total',
    ]) {
      expect(all, metric).toContain(metric);
    }
  });

  it('lays its panels out on the 24-column grid without overlapping', () => {
    const cells = new Map<string, string>();
    for (const { value } of panels) {
      const { x, y, w, h } = value.gridPos as { x: number; y: number; w: number; h: number };
      expect(x + w, String(value.title)).toBeLessThanOrEqual(24);
      for (let row = y; row < y + h; row++) {
        for (let col = x; col < x + w; col++) {
          const taken = cells.get(`${row}:${col}`);
          expect(taken, `${String(value.title)} overlaps ${taken} at row ${row}, column ${col}`).toBeUndefined();
          cells.set(`${row}:${col}`, String(value.title));
        }
      }
    }
  });

  it('shows every status of the key check by name, as the exporter has them', async () => {
    const statuses = await exportedLabelValues('tinkr_datadog_keys_status', 'status');
    expect(statuses).toEqual(['ok', 'rejected', 'unchecked', 'unreachable']);
    const panel = panels.find((p) => p.value.title === 'Datadog key check')?.value;
    const expr = dashboardExpressions(panel ?? null)[0]?.expr ?? '';
    const mappings = ((panel?.fieldConfig as { defaults: { mappings: Array<{ options: Record<string, { text: string }> }> } }).defaults.mappings[0]?.options ?? {});
    // Each status is one code (`status="rejected"} * 4`), and each code is shown as its status.
    const codes = Object.fromEntries(statuses.map((status) => [status, new RegExp(`status="${status}"\\} \\* (\\d+)\\)`).exec(expr)?.[1]]));
    for (const status of statuses) {
      expect(codes[status], `${status} has no code in ${expr}`).toMatch(/^\d+$/);
      expect(mappings[codes[status]!]?.text, status).toBe(status);
    }
    expect(new Set(Object.values(codes)).size).toBe(statuses.length);
  });

  it('filters every series by the job and instance variables, and uses no other variable', () => {
    const variables = dashboardVariables(dashboard);
    for (const { where, expr } of queries) {
      expect(() => substituteVariables(expr, VARIABLE_VALUES), where).not.toThrow();
      const found = selectors(expr);
      expect(found.length, where).toBeGreaterThan(0);
      for (const selector of found) {
        expect(selector, where).toMatch(/\{.*job="\$job"/);
        expect(selector, where).toMatch(/\{.*instance=~"\$instance"/);
      }
    }
    expect(variables.names).toEqual(['datasource', 'job', 'instance']);
  });
});

describe('every query of the kit', () => {
  const queries = [
    ...dashboardExpressions(dashboard),
    ...dashboardVariables(dashboard).queries.map((v) => ({ where: `variable ${v.name}`, expr: v.selector ?? '' })),
    ...rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })),
  ];

  it('selects at least one metric, and only metrics the exporter has', async () => {
    const known = await exporterSeriesNames();
    expect(known.has('tinkr_http_requests_total')).toBe(true);
    expect(queries.length).toBeGreaterThan(30);
    for (const { where, expr } of queries) {
      const names = metricNames(substituteVariables(expr, VARIABLE_VALUES));
      expect(names.length, where).toBeGreaterThan(0);
      for (const name of names) expect(known.has(name) || PROMETHEUS_SERIES.has(name), `${where} uses ${name}, which the exporter does not have`).toBe(true);
    }
  });

  it('lists no family by hand, so every family (the aggregate ones too) shows up by itself', async () => {
    const families = await exportedLabelValues('tinkr_budget_gate_total', 'family');
    expect(families).toEqual(expect.arrayContaining(['logs', 'logs_aggregate', 'metrics', 'spans', 'spans_aggregate']));
    for (const { where, expr } of queries) {
      for (const selector of selectors(expr)) expect(selector, `${where} picks families by hand`).not.toMatch(/\bfamily\s*(=|!=|=~|!~)/);
    }
  });
});

describe('the alert rules', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'tinkr-rules-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('each have a severity, a summary and a description saying what to do', () => {
    expect(rules.length).toBeGreaterThanOrEqual(10);
    expect(new Set(rules.map((r) => r.alert)).size).toBe(rules.length);
    for (const rule of rules) {
      expect(['critical', 'warning'], rule.alert).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, rule.alert).toMatch(/\S/);
      expect(rule.annotations?.description?.length ?? 0, rule.alert).toBeGreaterThan(100);
    }
  });

  it('pass promtool check rules', async () => {
    const result = await promtool(['check', 'rules', RULES_FILE], RULES_DIR);
    expect(result.output).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(result.code).toBe(0);
  });

  it('are refused by promtool when one is broken (the check is real)', async () => {
    const broken = join(scratch, 'broken.rules.yml');
    writeFileSync(broken, 'groups:\n  - name: x\n    rules:\n      - alert: Broken\n        expr: sum(rate(tinkr_http_requests_total[5m])\n');
    const result = await promtool(['check', 'rules', broken], scratch);
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(/unclosed|parse error/i);
  });

  it('have promtool unit tests in which every alert fires once and stays quiet once', () => {
    const cases = loadAlertCases();
    for (const { alert } of rules) {
      const mine = cases.filter((c) => c.alertname === alert);
      expect(mine.some((c) => (c.exp_alerts ?? []).length > 0), `${alert} never fires in the unit tests`).toBe(true);
      expect(mine.some((c) => (c.exp_alerts ?? []).length === 0), `${alert} is never shown quiet in the unit tests`).toBe(true);
    }
    expect(cases.every((c) => rules.some((r) => r.alert === c.alertname))).toBe(true);
  });

  it('pass their promtool unit tests', async () => {
    const result = await promtool(['test', 'rules', RULES_TEST_FILE], RULES_DIR);
    expect(result.output).toContain('SUCCESS');
    expect(result.code).toBe(0);
  });

  it('fail their unit tests when a threshold moves (the tests are real)', async () => {
    // The rules with the budget threshold lowered from 10% to 4%: its firing case must now fail.
    const rulesCopy = join(scratch, 'tinkr-server.rules.yml');
    copyFileSync(RULES_FILE, rulesCopy);
    const text = readFileSync(rulesCopy, 'utf8');
    const moved = text.replace('tinkr_datadog_ratelimit_limit < 0.1', 'tinkr_datadog_ratelimit_limit < 0.04');
    expect(moved).not.toBe(text);
    writeFileSync(rulesCopy, moved);
    copyFileSync(RULES_TEST_FILE, join(scratch, 'tinkr-server.rules.test.yml'));
    const result = await promtool(['test', 'rules', 'tinkr-server.rules.test.yml'], scratch);
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(/alertname: TinkrDatadogBudgetLow/);
  });
});
