import type { Scope } from '../auth/scope.ts';
import { levelOf } from '../datadog/levels.ts';
import { logsPanel, panelQuery, type AggregateBody, type AggregateItem } from '../signals/aggregate.ts';
import type { QueryDeps } from '../signals/deps.ts';
import type { AskedRange } from '../time/range.ts';
import type { Answer } from '../upstream/answer.ts';
import type { CallContext } from '../upstream/types.ts';
import { pyRound } from './py-round.ts';

/**
 * `POST /api/v1/slo` (docs/analytics.md#post-apiv1slo): Tinkr's log-based SLO (every log of the service is a
 * request; errors are the logs whose status normalizes to error or critical), counted exactly
 * by one aggregate call, count by status over the window, instead of Tinkr's 5,000-line
 * sample. Field names, formulas and rounding are Tinkr's (its `routes/query.py`), rounding
 * included (Python's round, py-round.ts).
 */

export interface TinkrSlo {
  service: string;
  window: string;
  target_pct: number;
  availability_pct: number;
  total_requests: number;
  error_count: number;
  budget_total: number;
  budget_used: number;
  budget_remaining_pct: number;
  burn_rate: number;
  status: 'ok' | 'breach';
}

/** Distinct statuses counted: Datadog remaps statuses to a dozen or so; this is far past that. */
const STATUS_GROUPS = 100;

/** `POST /api/v1/slo` as its schema reads it (schemas/tinkr.ts): the window as written, and the range it covers. */
export interface TinkrSloRequest {
  service: string;
  target_pct: number;
  window: string;
  time: AskedRange;
}

export function tinkrSlo(body: TinkrSloRequest, scope: Scope, deps: QueryDeps, ctx: CallContext): Promise<Answer> {
  const panel = logsPanel(
    { services: [body.service], levels: [], compute: { aggregation: 'count' }, computeText: 'count', groupBy: ['status'], limit: STATUS_GROUPS },
    scope,
  );
  const as = { route: 'tinkr.slo', render: ({ data }: AggregateBody) => sloOf(body, data), renderedWith: [body.service, body.target_pct, body.window] };
  return deps.engine.answer(panelQuery('logs_aggregate', panel, body.time, deps, as), ctx);
}

/** Requests and errors from the counts by status. */
function sloOf(body: { service: string; target_pct: number; window: string }, items: readonly AggregateItem[]): TinkrSlo {
  let total = 0;
  let errors = 0;
  for (const item of items) {
    const count = item.value ?? 0;
    total += count;
    const level = levelOf(String(item.group['status']));
    if (level === 'error' || level === 'critical') errors += count;
  }
  return sloFigures(body, total, errors);
}

/** Tinkr's arithmetic, to the letter. */
export function sloFigures(body: { service: string; target_pct: number; window: string }, total: number, errors: number): TinkrSlo {
  const availability = total > 0 ? ((total - errors) / total) * 100 : 100.0;
  const budgetTotal = ((100 - body.target_pct) / 100) * total;
  const budgetRemaining = budgetTotal > 0 ? Math.max(0.0, ((budgetTotal - errors) / budgetTotal) * 100) : 100.0;
  const burnRate = budgetTotal > 0 ? errors / budgetTotal : 0.0;
  return {
    service: body.service,
    window: body.window,
    target_pct: body.target_pct,
    availability_pct: pyRound(availability, 4),
    total_requests: total,
    error_count: errors,
    budget_total: pyRound(budgetTotal, 1),
    budget_used: errors,
    budget_remaining_pct: pyRound(budgetRemaining, 1),
    burn_rate: pyRound(burnRate, 2),
    status: availability >= body.target_pct ? 'ok' : 'breach',
  };
}
