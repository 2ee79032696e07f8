import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { createPrometheusTelemetry, type PrometheusTelemetry } from '../../src/telemetry/prometheus.ts';
import { parsePrometheus } from './prometheus.ts';

/**
 * The operator kit in deploy/ as the tests read it: the Grafana dashboard's every query and the
 * Prometheus rules, plus a runner for the real `promtool`.
 */

const DEPLOY = join(import.meta.dirname, '..', '..', 'deploy');
export const RULES_DIR = join(DEPLOY, 'prometheus');
export const RULES_FILE = join(RULES_DIR, 'tinkr-server.rules.yml');
export const RULES_TEST_FILE = join(RULES_DIR, 'tinkr-server.rules.test.yml');
export const DASHBOARD_FILE = join(DEPLOY, 'grafana', 'tinkr-server.json');

/** The scrape job name the rules' `up` selectors expect (docs/operations.md says so too). */
export const JOB = 'tinkr-server';

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

interface RuleFile {
  groups: Array<{ name: string; rules: Array<AlertRule | { record: string; expr: string }> }>;
}

/** Every rule of every group; the kit has alerts only, so a recording rule is an error here. */
export function loadAlertRules(): AlertRule[] {
  const file = parseYaml(readFileSync(RULES_FILE, 'utf8')) as RuleFile;
  return file.groups.flatMap((group) =>
    group.rules.map((rule) => {
      if (!('alert' in rule)) throw new Error(`recording rule ${rule.record}: the kit's tests only know alerts`);
      return rule;
    }),
  );
}

/** One `alert_rule_test` of the promtool unit-test file. */
export interface AlertCase {
  alertname: string;
  eval_time: string;
  exp_alerts?: unknown[];
}

export function loadAlertCases(): AlertCase[] {
  const file = parseYaml(readFileSync(RULES_TEST_FILE, 'utf8')) as { tests: Array<{ alert_rule_test?: AlertCase[] }> };
  return file.tests.flatMap((t) => t.alert_rule_test ?? []);
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function loadDashboard(): { [key: string]: Json } {
  return JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as { [key: string]: Json };
}

/** A PromQL query of the dashboard and where it is (panel title and refId). */
export interface DashboardQuery {
  where: string;
  expr: string;
}

/**
 * Every `expr` anywhere in the dashboard, found by walking the whole document (not by knowing
 * where Grafana keeps targets), so no query can be added without the tests seeing it.
 */
export function dashboardExpressions(dashboard: Json): DashboardQuery[] {
  const found: DashboardQuery[] = [];
  const walk = (node: Json, where: string): void => {
    if (Array.isArray(node)) return node.forEach((child) => walk(child, where));
    if (node === null || typeof node !== 'object') return;
    const title = typeof node.title === 'string' ? `${node.title}${typeof node.id === 'number' ? ` (panel ${node.id})` : ''}` : undefined;
    const here = title ?? (typeof node.refId === 'string' ? `${where} ${node.refId}` : where);
    for (const [key, value] of Object.entries(node)) {
      if (key === 'expr') {
        if (typeof value !== 'string' || value.trim() === '') throw new Error(`${here}: expr is not a query`);
        found.push({ where: here, expr: value });
      } else walk(value, here);
    }
  };
  walk(dashboard, 'dashboard');
  return found;
}

/** A panel of the dashboard as the live tests read it: its title and its queries with their legends. */
export interface DashboardPanelTarget {
  expr: string;
  legendFormat: string;
}

export interface DashboardPanel {
  title: string;
  targets: DashboardPanelTarget[];
}

/** The top-level panels that have queries (rows have none). */
export function dashboardPanels(dashboard: { [key: string]: Json }): DashboardPanel[] {
  const panels = (dashboard.panels ?? []) as Array<{ title?: string; targets?: DashboardPanelTarget[] }>;
  return panels.filter((p) => (p.targets ?? []).length > 0).map((p) => ({ title: String(p.title), targets: p.targets! }));
}

/** A query variable: Grafana's `label_values(selector, label)` (or `label_values(label)`). */
export interface VariableQuery {
  name: string;
  query: string;
  /** The series selector, or undefined for all series. */
  selector: string | undefined;
  label: string;
}

export function dashboardVariables(dashboard: { [key: string]: Json }): { names: string[]; queries: VariableQuery[] } {
  const list = ((dashboard.templating as { list?: Json[] } | undefined)?.list ?? []) as Array<{ [key: string]: Json }>;
  const queries = list
    .filter((v) => v.type === 'query')
    .map((v) => {
      const raw = v.query;
      const query = typeof raw === 'string' ? raw : String((raw as { query?: Json } | null)?.query ?? '');
      if (v.definition !== undefined && v.definition !== query) throw new Error(`variable ${String(v.name)}: definition and query differ`);
      const match = /^label_values\(\s*(?:(.*),\s*)?(\w+)\s*\)$/.exec(query.trim());
      if (!match) throw new Error(`variable ${String(v.name)}: only label_values(…) queries are checked, got ${query}`);
      return { name: String(v.name), query, selector: match[1]?.trim(), label: match[2]! };
    });
  return { names: list.map((v) => String(v.name)), queries };
}

/**
 * The values the tests give Grafana's variables: one job, every instance (the `All` value), and
 * a `$__rate_interval` of 5m, so each rate window reaches back over all the traffic a test drove
 * (Grafana picks at least four scrape intervals; a test's Prometheus has existed for less than
 * five minutes).
 */
export const VARIABLE_VALUES: Record<string, string> = { job: JOB, instance: '.+', __rate_interval: '5m' };

/**
 * A fresh exporter as a server with a shared store has it: `tinkr_store_up` is registered by the
 * store's first report (a server without a store exports no such series), so it reports once.
 */
export function kitExporter(): PrometheusTelemetry {
  const telemetry = createPrometheusTelemetry({ version: 'kit' });
  telemetry.storeUp(true);
  return telemetry;
}

/**
 * The values of `label` on the series `name` of a fresh exporter: the label values known in
 * advance (families, outcomes, key-check statuses), which the exporter exports from the start.
 */
export async function exportedLabelValues(name: string, label: string): Promise<string[]> {
  const samples = parsePrometheus(await kitExporter().metrics()).filter((s) => s.name === name);
  return [...new Set(samples.map((s) => s.labels[label]).filter((v) => v !== undefined))].sort();
}

export interface PromtoolResult {
  code: number;
  output: string;
}

/** promtool has a lot of rules to load and test; generous for a shared machine. */
const PROMTOOL_TIMEOUT_MS = 60_000;

/** Runs the real `promtool` (Debian package `prometheus`; `.ci/run` installs it). */
export function promtool(args: readonly string[], cwd: string): Promise<PromtoolResult> {
  return new Promise((resolve, reject) => {
    execFile('promtool', args, { cwd, timeout: PROMTOOL_TIMEOUT_MS }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new Error('promtool is not installed: apt-get install prometheus (the Debian package ships promtool; .ci/run installs it)'));
        return;
      }
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}
