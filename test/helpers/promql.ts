/**
 * Just enough PromQL reading for the operator-kit tests: which metric names an expression
 * uses, and how to turn an alert expression into queries that return data whether or not the
 * alert fires. Prometheus 2.x has no API that returns an expression's syntax tree, so this
 * scans the text: it tracks nesting of (), {} and [] and skips string literals, which is all
 * the structure the two questions need.
 */

/** Keywords and modifiers that look like metric names but are not. */
const KEYWORDS = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'inf', 'nan']);
/** Modifiers whose parenthesised list holds label names, not expressions. */
const LABEL_LIST = /\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g;

/** The text with every string literal's content blanked (quotes kept), so nothing inside one is read as syntax. */
function blankStrings(expr: string): string {
  return expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, (s) => `${s[0]}${' '.repeat(s.length - 2)}${s[0]}`);
}

/**
 * The metric names an expression selects: identifiers outside label matchers, range brackets
 * and label lists that are not a function call (`rate(`), a keyword or a number. Histogram
 * series keep their suffix (`_bucket`).
 */
export function metricNames(expr: string): string[] {
  let text = blankStrings(expr).replace(LABEL_LIST, ' ');
  // Matchers and ranges hold label names and durations; drop them (they never nest).
  text = text.replace(/\{[^}]*\}/g, ' ').replace(/\[[^\]]*\]/g, ' ');
  const names = new Set<string>();
  for (const match of text.matchAll(/(?<![\w:.$])([a-zA-Z_:][\w:]*)(\s*\()?/g)) {
    const [, name, call] = match;
    if (call || KEYWORDS.has(name!.toLowerCase())) continue;
    names.add(name!);
  }
  return [...names];
}

/** Each series selector of the expression as written, label matchers included (`x{a=~"b"}`). */
export function selectors(expr: string): string[] {
  const names = metricNames(expr);
  const blanked = blankStrings(expr);
  const found: string[] = [];
  for (const match of blanked.matchAll(/(?<![\w:.$])([a-zA-Z_:][\w:]*)(\s*\{[^}]*\})?(?!\s*\()/g)) {
    if (names.includes(match[1]!)) found.push(expr.slice(match.index, match.index + match[0].length));
  }
  return found;
}

/** Depth-0 positions of the expression: `visit(i)` for each index outside any (), {}, [] or string. */
function topLevel(expr: string, visit: (index: number) => void): void {
  const text = blankStrings(expr);
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '(' || c === '{' || c === '[') depth++;
    else if (c === ')' || c === '}' || c === ']') depth--;
    else if (depth === 0) visit(i);
  }
}

/** Splits at the depth-0 set operators `and`, `or`, `unless` (the loosest-binding operators). */
function splitSetOperators(expr: string): string[] {
  const cuts: Array<{ at: number; length: number }> = [];
  topLevel(expr, (i) => {
    const match = /^(and|or|unless)\b/i.exec(expr.slice(i));
    if (match && (i === 0 || /[\s)}\]]/.test(expr[i - 1]!))) cuts.push({ at: i, length: match[0].length });
  });
  const parts: string[] = [];
  let from = 0;
  for (const cut of cuts) {
    parts.push(expr.slice(from, cut.at));
    from = cut.at + cut.length;
  }
  parts.push(expr.slice(from));
  // The right side of `a and on (x) b` starts with the matching modifier.
  return parts.map((p) => p.trim().replace(/^(on|ignoring)\s*\([^)]*\)\s*/i, '').trim());
}

/** `( e )` as `e` when the parentheses enclose the whole expression. */
function unwrap(expr: string): string {
  let text = expr.trim();
  for (;;) {
    if (!text.startsWith('(') || !text.endsWith(')')) return text;
    const blank = blankStrings(text);
    let depth = 0;
    let closesAtEnd = true;
    for (let i = 0; i < blank.length; i++) {
      if (blank[i] === '(') depth++;
      else if (blank[i] === ')') depth--;
      if (depth === 0 && i < text.length - 1) closesAtEnd = false;
    }
    if (!closesAtEnd) return text;
    text = text.slice(1, -1).trim();
  }
}

const COMPARISON = /^(==|!=|>=|<=|>|<)/;
const NUMBER = /^\s*(bool\s+)?[-+]?(\d+(\.\d*)?|\.\d+)(e[-+]?\d+)?\s*$/i;

/**
 * The queries behind an alert expression that must return data whether or not the alert fires:
 * the expression is split at its set operators (`and`, `or`, `unless`), and each part loses its
 * last depth-0 comparison against a number (`… > 0.1`), since comparison binds looser than
 * arithmetic and tighter than set operators in PromQL. `absent(x)` (empty exactly when all is
 * well) becomes `x`. What is left is the value the alert compares: the budget share, the error
 * ratio, the latency. A part whose comparison is against another expression keeps both sides.
 */
export function thresholdFreeParts(expr: string): string[] {
  return splitSetOperators(unwrap(expr)).flatMap((part) => {
    const clause = unwrap(part);
    const absent = /^absent(_over_time)?\s*\(([\s\S]*)\)$/i.exec(clause);
    if (absent) return [unwrap(absent[2]!)];
    let last: { at: number; op: string } | undefined;
    topLevel(clause, (i) => {
      const op = COMPARISON.exec(clause.slice(i));
      // `=~`/`!~` only occur inside matchers; skip the second character of a two-character operator.
      if (op && !(last && last.at + last.op.length > i)) last = { at: i, op: op[0] };
    });
    if (!last) return [clause];
    const left = clause.slice(0, last.at).trim();
    const right = clause.slice(last.at + last.op.length).trim();
    return NUMBER.test(right) ? [unwrap(left)] : [unwrap(left), unwrap(right.replace(/^bool\s+/i, ''))];
  });
}

/**
 * Grafana's variables replaced as Grafana would for the given values (`$name`, `${name}`,
 * `${name:format}`, `[[name]]`); throws when one is left, so no expression reaches Prometheus
 * with a `$` in it.
 */
export function substituteVariables(expr: string, values: Record<string, string>): string {
  const out = expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]/g, (whole, a?: string, b?: string, c?: string) => {
    const name = (a ?? b ?? c)!;
    if (!(name in values)) throw new Error(`no value for the variable ${whole} in ${expr}`);
    return values[name]!;
  });
  return out;
}
