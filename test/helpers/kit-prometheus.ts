import { type DashboardPanelTarget, VARIABLE_VALUES } from './operator-kit.ts';
import type { PrometheusServer } from './prometheus-server.ts';
import { selectors, substituteVariables } from './promql.ts';

/**
 * Questions the operator-kit tests ask a real Prometheus about the kit's queries: does a query
 * show data, does each of its selectors match a series, what does a panel show, how are the
 * rules doing.
 */

export interface RuleState {
  name: string;
  type: string;
  health: string;
  lastError?: string;
  lastEvaluation: string;
}

export async function ruleStates(prometheus: PrometheusServer): Promise<RuleState[]> {
  return (await prometheus.api<{ groups: Array<{ rules: RuleState[] }> }>('/api/v1/rules')).groups.flatMap((g) => g.rules);
}

/**
 * The selectors of `expr` (with their label matchers) that match no series: a misspelt label
 * value, which `or vector(0)` or a ratio's other side could otherwise hide.
 */
export async function unmatchedSelectors(prometheus: PrometheusServer, where: string, expr: string): Promise<string[]> {
  const found = selectors(expr);
  if (found.length === 0) return [`${where}: no selector in ${expr}`];
  const unmatched: string[] = [];
  for (const selector of found) if ((await prometheus.query(selector)).length === 0) unmatched.push(`${where}: ${selector}`);
  return unmatched;
}

/** Why `expr` shows nothing, or undefined when it returns at least one finite value. */
export async function noData(prometheus: PrometheusServer, expr: string): Promise<string | undefined> {
  const samples = await prometheus.query(expr);
  if (samples.some((s) => Number.isFinite(s.value))) return undefined;
  return samples.length === 0 ? 'no series' : `only ${samples.map((s) => s.value).join(', ')}`;
}

/**
 * What a panel's queries show now, as Grafana would label it: `legend → value`, each
 * `{{label}}` of the legend filled from the series.
 */
export async function panelValues(prometheus: PrometheusServer, targets: readonly DashboardPanelTarget[]): Promise<Record<string, number>> {
  const shown: Record<string, number> = {};
  for (const { expr, legendFormat } of targets) {
    for (const sample of await prometheus.query(substituteVariables(expr, VARIABLE_VALUES))) {
      shown[legendFormat.replace(/\{\{(\w+)\}\}/g, (_, label: string) => sample.metric[label] ?? '')] = sample.value;
    }
  }
  return shown;
}
