import { AGGREGATIONS, TAG_KEY } from './metrics.ts';

/**
 * Proving that a raw Datadog metric query stays inside a key's scope.
 *
 * Only the classic form is accepted, written out in full, because only it can be read with
 * certainty: `aggr:metric.name{scope} by {key,key}` with optional `.as_count()`, `.as_rate()`,
 * `.rollup(method[, seconds])`, `.fill(mode[, limit])`, several such queries separated by
 * commas. Arithmetic, wrapping functions (`top(...)`, `timeshift(...)`), the boolean filter
 * syntax (`{a:b AND (c:d OR e:f)}`, `IN`, `NOT`) and anything else are refused: a query the
 * check cannot read is a query it cannot prove.
 *
 * A scope `{...}` is a comma list of tags, which Datadog intersects (AND). It is inside the key's
 * scope when it holds at least one positive `service:<in-scope>` (and `env:<the env>` when the key
 * has one) and every `service:`/`env:` item in it, negated or not, names an in-scope value
 * exactly. So even a reading of repeated keys as alternatives (OR) cannot leave the scope.
 */

export interface MetricScopeLimit {
  services?: readonly string[] | undefined;
  env?: string | undefined;
}

const AGGREGATION = AGGREGATIONS.join('|');
const ROLLUP = /^\.rollup\((avg|sum|min|max|count)(, ?\d{1,7})?\)/;
const FILL = /^\.fill\((null|zero|last|linear)(, ?\d{1,7})?\)/;
const AS = /^\.as_(count|rate)\(\)/;
const HEAD = new RegExp(`^(?:(?:${AGGREGATION}):)?[A-Za-z][A-Za-z0-9_.]{0,199}\\{([^{}]*)\\}(?: ?by ?\\{([^{}]*)\\})?`);
/** One tag of a scope: an optional `!`, a key, and an optional value (which may hold `:`). */
const SCOPE_ITEM = /^(!?)([A-Za-z][A-Za-z0-9_\-./]{0,199})(?::([\p{L}\p{N}_\-./:*]{1,200}))?$/u;
/** Most sub-queries accepted in one raw query; the same order as Datadog's own limits. */
export const MAX_METRIC_SUBQUERIES = 16;

/**
 * Why the query cannot be proven inside the limit, or undefined when it is inside. A limit with
 * neither services nor env is unrestricted and proves everything.
 */
export function metricQueryOutsideScope(query: string, limit: MetricScopeLimit): string | undefined {
  if (!limit.services && limit.env === undefined) return undefined;
  const parts = splitTopLevel(query);
  if (parts === undefined) return 'its brackets do not balance';
  if (parts.length > MAX_METRIC_SUBQUERIES) return `it has more than ${MAX_METRIC_SUBQUERIES} queries`;
  for (const part of parts) {
    const why = subQueryOutside(part.trim(), limit);
    if (why) return why;
  }
  return undefined;
}

/** Splits on commas outside braces and parentheses; undefined when they do not balance. */
function splitTopLevel(query: string): string[] | undefined {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < query.length; i++) {
    const ch = query[i];
    if (ch === '{' || ch === '(') depth++;
    else if (ch === '}' || ch === ')') {
      if (--depth < 0) return undefined;
    } else if (ch === ',' && depth === 0) {
      parts.push(query.slice(start, i));
      start = i + 1;
    }
  }
  if (depth !== 0) return undefined;
  parts.push(query.slice(start));
  return parts;
}

function subQueryOutside(text: string, limit: MetricScopeLimit): string | undefined {
  const head = HEAD.exec(text);
  if (!head) return 'only the form "aggr:metric{scope} by {tags}" with .as_count(), .as_rate(), .rollup() or .fill() can be checked';
  let rest = text.slice(head[0].length);
  while (rest !== '') {
    const fn = AS.exec(rest) ?? ROLLUP.exec(rest) ?? FILL.exec(rest);
    if (!fn) return `"${rest.slice(0, 40)}" after the scope is not .as_count(), .as_rate(), .rollup() or .fill()`;
    rest = rest.slice(fn[0].length);
  }
  const groupBy = head[2];
  if (groupBy !== undefined && groupBy.split(',').some((key) => !TAG_KEY.test(key.trim()))) return 'its "by {...}" is not a list of tag keys';
  return scopeOutside(head[1]!, limit);
}

function scopeOutside(body: string, limit: MetricScopeLimit): string | undefined {
  const items = body.split(',').map((item) => item.trim());
  const services: string[] = [];
  const envs: string[] = [];
  for (const item of items) {
    const match = SCOPE_ITEM.exec(item);
    if (!match) return `{${body.slice(0, 80)}} is not a comma list of tags`;
    const [, negated, key, value] = match;
    const dimension = key!.toLowerCase();
    if (dimension !== 'service' && dimension !== 'env') continue;
    const allowed = dimension === 'service' ? limit.services : limit.env !== undefined ? [limit.env] : undefined;
    if (!allowed) continue;
    if (value === undefined || value.includes('*') || !allowed.includes(value)) {
      return `{${body.slice(0, 80)}} names ${dimension} ${JSON.stringify(value ?? '')}, which is not one of this key's`;
    }
    if (negated === '') (dimension === 'service' ? services : envs).push(value);
  }
  if (limit.services && services.length === 0) return `{${body.slice(0, 80)}} does not select one of this key's services with service:<name>`;
  if (limit.env !== undefined && envs.length === 0) return `{${body.slice(0, 80)}} does not select this key's env with env:${limit.env}`;
  return undefined;
}
