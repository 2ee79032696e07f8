import type { RecordedRequest } from '@tinkr/datadog-simulator';
import { literalOf, type Node } from '@tinkr/datadog-simulator/search/ast';
import { parseMetricQueries } from '@tinkr/datadog-simulator/metrics/query';
import { parseSearchQuery } from '@tinkr/datadog-simulator/search/parse';

/**
 * Proves, from what the simulator received, that an upstream request cannot return data outside
 * a key's scope. The proof reads the query with the simulator's own parsers (independent of the
 * gateway's code) and checks its structure, so it holds for every event, not only the ones a
 * test happens to look at:
 *
 * - a search query is confined to a set of services when its parsed tree forces it: a term
 *   `service:<literal in the set>`, an AND with a confining child, or an OR whose every child
 *   confines (the evaluator matches field values exactly; wildcards never count);
 * - a metric query is confined when every sub-query's scope holds a positive, wildcard-free
 *   `service:<in the set>` (the simulator ANDs scope items).
 *
 * A query the simulator cannot parse is answered with a 400 and no data; it proves nothing
 * about Datadog, which the gateway's strict checks are for, but leaks nothing here.
 */
export interface OracleScope {
  services?: readonly string[];
  env?: string;
}

export type Verdict = { ok: true; parsed: boolean } | { ok: false; why: string };

export function upstreamQueryOf(request: RecordedRequest): string | undefined {
  const body = request.body as any;
  if (request.endpoint === 'logs' || request.endpoint === 'logs_aggregate') return body?.filter?.query ?? '*';
  if (request.endpoint === 'spans' || request.endpoint === 'spans_aggregate') return body?.data?.attributes?.filter?.query ?? '*';
  if (request.endpoint === 'metrics') return request.query.query;
  return undefined;
}

export function provenWithinScope(request: RecordedRequest, scope: OracleScope): Verdict {
  const query = upstreamQueryOf(request);
  if (query === undefined) return { ok: false, why: `unexpected upstream endpoint ${request.method} ${request.path}` };
  if (request.endpoint === 'metrics') return metricWithin(query, scope);
  let tree: Node;
  try {
    tree = parseSearchQuery(query);
  } catch {
    return { ok: true, parsed: false };
  }
  if (scope.services && !confines(tree, 'service', scope.services)) return { ok: false, why: `search ${JSON.stringify(query)} is not confined to services ${scope.services.join(', ')}` };
  if (scope.env !== undefined && !confines(tree, 'env', [scope.env])) return { ok: false, why: `search ${JSON.stringify(query)} is not confined to env ${scope.env}` };
  return { ok: true, parsed: true };
}

/** True when every event matching `node` has `field` equal to one of `allowed`. */
export function confines(node: Node, field: string, allowed: readonly string[]): boolean {
  switch (node.kind) {
    case 'term': {
      if (node.field !== field || node.matcher.kind !== 'pattern') return false;
      const literal = literalOf(node.matcher.pattern);
      return literal !== undefined && allowed.includes(literal);
    }
    case 'and':
      return node.children.some((child) => confines(child, field, allowed));
    case 'or':
      return node.children.every((child) => confines(child, field, allowed));
    default:
      return false;
  }
}

function metricWithin(query: string, scope: OracleScope): Verdict {
  let parsed;
  try {
    parsed = parseMetricQueries(query);
  } catch {
    return { ok: true, parsed: false };
  }
  for (const sub of parsed) {
    const positive = sub.scope.filter((item) => !item.negated && !item.tag.includes('*')).map((item) => item.tag);
    if (scope.services && !positive.some((tag) => scope.services!.some((s) => tag === `service:${s}`))) {
      return { ok: false, why: `metric query ${JSON.stringify(sub.text)} does not select one of ${scope.services.join(', ')}` };
    }
    if (scope.env !== undefined && !positive.includes(`env:${scope.env}`)) {
      return { ok: false, why: `metric query ${JSON.stringify(sub.text)} does not select env ${scope.env}` };
    }
  }
  return { ok: true, parsed: true };
}
