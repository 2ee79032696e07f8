/**
 * The classic metric query language of `GET /api/v1/query`, the part the gateway sends and users
 * type: `aggr:metric.name{scope} by {tag,tag}` with optional `.as_count()`, `.as_rate()`,
 * `.rollup(method[, seconds])` and `.fill(...)`, several queries separated by commas.
 * Scope is `*` or a comma list of `tag:value`, `!tag:value`, values with `*` wildcards.
 * Arithmetic and wrapping functions (`abs(...)`, `top(...)`) are not supported: they are a
 * parse error here, where Datadog would evaluate them.
 */

export const AGGREGATORS = ['avg', 'sum', 'min', 'max'] as const;
export type Aggregator = (typeof AGGREGATORS)[number];
export const ROLLUP_METHODS = ['avg', 'sum', 'min', 'max', 'count'] as const;
export type RollupMethod = (typeof ROLLUP_METHODS)[number];

export interface ScopeItem {
  /** `tag:value` or a bare tag, possibly with `*` wildcards. */
  readonly tag: string;
  readonly negated: boolean;
}

export interface MetricQuery {
  /** The sub-query as written, trimmed. */
  readonly text: string;
  readonly aggregator: Aggregator;
  readonly metric: string;
  /** Empty for `*`. */
  readonly scope: readonly ScopeItem[];
  readonly groupBy: readonly string[];
  readonly asRate: boolean;
  readonly asCount: boolean;
  readonly rollup: { readonly method: RollupMethod; readonly seconds: number | undefined } | undefined;
  readonly fillZero: boolean;
  /** The functions as written after the scope/group (`.as_count()`), for `expression`. */
  readonly suffix: string;
}

/** Most sub-queries in one request; keeps one call's work bounded. */
export const MAX_SUBQUERIES = 16;

export class MetricQueryError extends Error {
  constructor(query: string, rest: string, column: number, rule: string) {
    super(`Error parsing query: \nunable to parse ${query}: Rule '${rule}' didn't match at '${rest}' (line 1, column ${column}).`);
    this.name = 'MetricQueryError';
  }
}

const METRIC_NAME = /^[A-Za-z][A-Za-z0-9_.]*/;
const TAG_ITEM = /^!?[A-Za-z0-9_\-./:*]+$/;
const TAG_KEY = /^[A-Za-z][A-Za-z0-9_\-./]*$/;

export function parseMetricQueries(input: string): MetricQuery[] {
  const parts = splitTopLevel(input);
  if (parts.length > MAX_SUBQUERIES) throw new MetricQueryError(input, input, 1, 'query');
  let offset = 0;
  return parts.map((part) => {
    const parsed = parseOne(input, part, offset);
    offset += part.length + 1;
    return parsed;
  });
}

/** Splits on commas outside braces and parentheses. */
function splitTopLevel(input: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < input.length; i++) {
    const ch = input[i];
    if (ch === '{' || ch === '(') depth++;
    else if (ch === '}' || ch === ')') depth--;
    else if (ch === ',' && depth === 0) {
      parts.push(input.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(input.slice(start));
  return parts;
}

function parseOne(whole: string, raw: string, offset: number): MetricQuery {
  let i = 0;
  const s = raw;
  const fail = (rule: string): never => {
    throw new MetricQueryError(whole, s.slice(i), offset + i + 1, rule);
  };
  const skipSpace = (): void => {
    while (s[i] === ' ') i++;
  };
  skipSpace();
  const textStart = i;

  let aggregator: Aggregator = 'avg';
  const aggMatch = /^([a-z]+):/.exec(s.slice(i));
  if (aggMatch) {
    if (!(AGGREGATORS as readonly string[]).includes(aggMatch[1]!)) fail('aggregator');
    aggregator = aggMatch[1] as Aggregator;
    i += aggMatch[0].length;
  }
  const name = METRIC_NAME.exec(s.slice(i));
  if (!name) fail('metric_name');
  const metric = name![0];
  i += metric.length;

  if (s[i] !== '{') fail('scope_expr');
  const close = s.indexOf('}', i);
  if (close < 0) fail('scope_expr');
  const scope = parseScope(s.slice(i + 1, close), () => fail('scope_expr'));
  i = close + 1;

  skipSpace();
  let groupBy: string[] = [];
  if (s.startsWith('by', i)) {
    i += 2;
    skipSpace();
    if (s[i] !== '{') fail('group_by');
    const end = s.indexOf('}', i);
    if (end < 0) fail('group_by');
    groupBy = s
      .slice(i + 1, end)
      .split(',')
      .map((t) => t.trim());
    if (groupBy.some((t) => !TAG_KEY.test(t))) fail('group_by');
    i = end + 1;
  }

  let asRate = false;
  let asCount = false;
  let fillZero = false;
  let rollup: MetricQuery['rollup'];
  const suffixStart = i;
  for (;;) {
    skipSpace();
    if (i >= s.length) break;
    const fn = /^\.([a-z_]+)\(([^()]*)\)/.exec(s.slice(i));
    if (!fn) fail('function');
    const args = fn![2]!.split(',').map((a) => a.trim()).filter((a) => a !== '');
    switch (fn![1]) {
      case 'as_count':
      case 'as_rate':
        if (args.length !== 0) fail('function');
        if (fn![1] === 'as_count') asCount = true;
        else asRate = true;
        break;
      case 'rollup': {
        const method = args[0]?.replace(/^["']|["']$/g, '');
        if (!method || !(ROLLUP_METHODS as readonly string[]).includes(method) || args.length > 2) fail('rollup');
        const seconds = args[1] === undefined ? undefined : Number(args[1]);
        if (seconds !== undefined && !(Number.isInteger(seconds) && seconds > 0)) fail('rollup');
        rollup = { method: method as RollupMethod, seconds };
        break;
      }
      case 'fill': {
        const mode = args[0];
        if (!mode || !['null', 'zero', 'last', 'linear'].includes(mode) || args.length > 2) fail('fill');
        fillZero = mode === 'zero';
        break;
      }
      default:
        fail('function');
    }
    i += fn![0].length;
  }
  if (asRate && asCount) fail('function');
  return {
    text: s.slice(textStart).trim(),
    aggregator,
    metric,
    scope,
    groupBy,
    asRate,
    asCount,
    rollup,
    fillZero,
    suffix: s.slice(suffixStart).replace(/\s+/g, ''),
  };
}

function parseScope(body: string, fail: () => never): ScopeItem[] {
  const trimmed = body.trim();
  if (trimmed === '*') return [];
  if (trimmed === '') fail();
  return trimmed.split(',').map((raw) => {
    const item = raw.trim();
    if (!TAG_ITEM.test(item) || item === '!') fail();
    const negated = item.startsWith('!');
    return { tag: negated ? item.slice(1) : item, negated };
  });
}

/** `service:checkout,!host:a` or `*`: the scope as Datadog echoes it. */
export function scopeText(scope: readonly ScopeItem[]): string {
  return scope.length === 0 ? '*' : scope.map((s) => `${s.negated ? '!' : ''}${s.tag}`).join(',');
}
