import type { Matcher, Node, Pattern } from './ast.ts';

/**
 * Evaluates a parsed search query against one event. What a field name means (reserved
 * attribute, tag, `@attribute`) differs between logs and spans, so the event kind supplies a
 * resolver; matching rules are shared:
 *
 * - field values match exactly and case-sensitively; unescaped `*`/`?` are wildcards;
 *   numbers match their decimal form (`@http.status_code:502`);
 * - a field holding a list (tags) matches when any element matches;
 * - `field:*` matches when the field is present;
 * - free text matches the event's text (log message, span resource) case-insensitively as a
 *   substring; quoted phrases likewise;
 * - ranges and comparisons are numeric when both sides are numbers, else lexicographic;
 *   numbers may carry a duration unit (`@duration:>1.5s`), read as nanoseconds like Datadog.
 */
export interface SearchTarget {
  /** Values of `field` as written (`service`, `env`, `@http.status_code`); empty when absent. */
  values(field: string): readonly unknown[];
  /** The free-text haystack. */
  text(): string;
}

export function matches(node: Node, target: SearchTarget): boolean {
  switch (node.kind) {
    case 'all':
      return true;
    case 'and':
      return node.children.every((c) => matches(c, target));
    case 'or':
      return node.children.some((c) => matches(c, target));
    case 'not':
      return !matches(node.child, target);
    case 'term':
      if (node.field === undefined) return matchesText(node.matcher, target.text());
      return target.values(node.field).some((v) => matchesValue(node.matcher, v));
  }
}

function matchesText(matcher: Matcher, haystack: string): boolean {
  if (matcher.kind !== 'pattern') return false;
  const regex = compile(matcher.pattern, false);
  return regex.test(haystack);
}

function matchesValue(matcher: Matcher, value: unknown): boolean {
  const text = scalarText(value);
  if (text === undefined) return false;
  switch (matcher.kind) {
    case 'pattern':
      return compile(matcher.pattern, true).test(text);
    case 'range': {
      const aboveLow = matcher.low === undefined || compare(text, matcher.low) > (matcher.inclusive ? -1 : 0);
      const belowHigh = matcher.high === undefined || compare(text, matcher.high) < (matcher.inclusive ? 1 : 0);
      return aboveLow && belowHigh;
    }
    case 'compare': {
      const c = compare(text, matcher.value);
      if (matcher.op === '>') return c > 0;
      if (matcher.op === '>=') return c >= 0;
      if (matcher.op === '<') return c < 0;
      return c <= 0;
    }
  }
}

function scalarText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return String(value);
  return undefined;
}

const DURATION_UNIT_NS: Readonly<Record<string, number>> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
const NUMBER_WITH_UNIT = /^(-?\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)?$/;

function numberOf(text: string): number | undefined {
  const match = NUMBER_WITH_UNIT.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * (match[2] ? DURATION_UNIT_NS[match[2]]! : 1);
}

function compare(value: string, bound: string): number {
  const a = numberOf(value);
  const b = numberOf(bound);
  if (a !== undefined && b !== undefined) return a === b ? 0 : a < b ? -1 : 1;
  return value === bound ? 0 : value < bound ? -1 : 1;
}

const compiled = new WeakMap<Pattern, { anchored: RegExp; loose: RegExp }>();

function compile(pattern: Pattern, anchored: boolean): RegExp {
  let entry = compiled.get(pattern);
  if (!entry) {
    const body = pattern.parts
      .map((p) => (p.kind === 'text' ? p.text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : p.kind === 'any' ? '[\\s\\S]*' : '[\\s\\S]'))
      .join('');
    // The `any`-only pattern is `field:*`: presence, which a non-empty match of `^.*$` gives.
    entry = { anchored: new RegExp(`^${body}$`, 'u'), loose: new RegExp(body, 'iu') };
    compiled.set(pattern, entry);
  }
  return anchored ? entry.anchored : entry.loose;
}
