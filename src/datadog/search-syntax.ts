/**
 * Datadog log/span search syntax: quoting values, composing clauses, and checking the structure
 * of a caller's query before it is wrapped in parentheses.
 *
 * Why the check matters: a query is composed as `service:"a" AND (<caller query>)`. If the
 * caller's text could close that parenthesis (`x) OR (service:b`) or leave a quote open, it
 * would change what the composed query means. A query whose parentheses balance, whose quotes
 * and ranges close and which has no dangling operator cannot escape its wrapping.
 */

/** `payments "api"` → `"payments \"api\""`: a value that can never change the query's meaning. */
export function quoteValue(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** `service:"payments-api"`, or `service:("a" OR "b")` for several values. */
export function anyOf(field: string, values: readonly string[]): string {
  if (values.length === 1) return `${field}:${quoteValue(values[0]!)}`;
  return `${field}:(${values.map(quoteValue).join(' OR ')})`;
}

/** Joins clauses with AND, dropping match-all ones; `*` when nothing is left. */
export function allOf(clauses: ReadonlyArray<string | undefined>): string {
  const kept = clauses.filter((c): c is string => c !== undefined && c.trim() !== '' && c.trim() !== '*');
  return kept.length === 0 ? '*' : kept.join(' AND ');
}

/** Wraps a checked caller query so it composes safely; `*` stays `*`. */
export function group(query: string): string | undefined {
  const q = query.trim();
  return q === '' || q === '*' ? undefined : `(${q})`;
}

export type TokenKind = 'lparen' | 'rparen' | 'and' | 'or' | 'not' | 'term';

export interface Token {
  kind: TokenKind;
  /** Offsets into the query text, so rewrites can splice the original. */
  start: number;
  end: number;
  text: string;
}

export type SyntaxCheck = { ok: true; tokens: Token[] } | { ok: false; message: string };

/** Longest caller query accepted; Datadog's own UI limit is of the same order. */
export const MAX_QUERY_LENGTH = 4_000;

/** Tokenizes a query and checks that it is structurally whole. */
export function checkQuery(query: string): SyntaxCheck {
  if (query.length > MAX_QUERY_LENGTH) return { ok: false, message: `longer than ${MAX_QUERY_LENGTH} characters` };
  const tokens: Token[] = [];
  let i = 0;
  while (i < query.length) {
    const ch = query[i]!;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (ch === '(' || ch === ')') {
      tokens.push({ kind: ch === '(' ? 'lparen' : 'rparen', start: i, end: i + 1, text: ch });
      i++;
      continue;
    }
    const start = i;
    const scanned = scanTerm(query, i);
    if (!scanned.ok) return scanned;
    i = scanned.end;
    const text = query.slice(start, i);
    const kind: TokenKind = text === 'AND' ? 'and' : text === 'OR' ? 'or' : text === 'NOT' ? 'not' : 'term';
    tokens.push({ kind, start, end: i, text });
  }
  const grammar = checkGrammar(tokens);
  return grammar ?? { ok: true, tokens };
}

/** Reads one term: up to whitespace or a parenthesis outside quotes, ranges and escapes. */
function scanTerm(query: string, from: number): { ok: true; end: number } | { ok: false; message: string } {
  let i = from;
  while (i < query.length) {
    const ch = query[i]!;
    if (ch === '\\') {
      if (i + 1 >= query.length) return { ok: false, message: 'ends with a lone backslash' };
      i += 2;
      continue;
    }
    if (ch === '"') {
      const close = closingQuote(query, i + 1);
      if (close < 0) return { ok: false, message: 'has an unclosed double quote' };
      i = close + 1;
      continue;
    }
    if (ch === '[' || ch === '{') {
      const closer = ch === '[' ? ']' : '}';
      const close = query.indexOf(closer, i + 1);
      if (close < 0) return { ok: false, message: `has an unclosed range "${ch}"` };
      if (/[()"]/.test(query.slice(i + 1, close))) return { ok: false, message: 'has a malformed range' };
      i = close + 1;
      continue;
    }
    if (ch === ']' || ch === '}') return { ok: false, message: `has an unmatched "${ch}"` };
    if (/\s/.test(ch) || ch === '(' || ch === ')') {
      // `status:(a OR b)` and `-(a OR b)`: the field or the negation binds to the group that follows.
      if (ch === '(' && i > from && (query[i - 1] === ':' || query[i - 1] === '-') ) return { ok: true, end: i };
      break;
    }
    i++;
  }
  return { ok: true, end: i };
}

function closingQuote(query: string, from: number): number {
  for (let i = from; i < query.length; i++) {
    if (query[i] === '\\') i++;
    else if (query[i] === '"') return i;
  }
  return -1;
}

/** Rejects unbalanced parentheses, empty groups and operators with nothing to join. */
function checkGrammar(tokens: Token[]): { ok: false; message: string } | undefined {
  let depth = 0;
  let previous: Token | undefined;
  for (const token of tokens) {
    const prevKind = previous?.kind;
    const prevIsPrefix = previous !== undefined && isPrefix(previous);
    switch (token.kind) {
      case 'lparen':
        depth++;
        break;
      case 'rparen':
        depth--;
        if (depth < 0) return { ok: false, message: 'has a ")" without a matching "("' };
        if (prevKind === 'lparen') return { ok: false, message: 'has an empty group "()"' };
        if (prevKind === 'and' || prevKind === 'or' || prevKind === 'not' || prevIsPrefix) {
          return { ok: false, message: `has "${previous!.text}" with nothing after it` };
        }
        break;
      case 'and':
      case 'or':
        if (!previous || prevKind === 'lparen' || prevKind === 'and' || prevKind === 'or' || prevKind === 'not' || prevIsPrefix) {
          return { ok: false, message: `has "${token.text}" with nothing before it` };
        }
        break;
      case 'not':
      case 'term':
        if (prevIsPrefix && token.kind === 'term') {
          return { ok: false, message: `has "${previous!.text}" followed by a space` };
        }
        break;
    }
    previous = token;
  }
  if (depth > 0) return { ok: false, message: 'has a "(" without a matching ")"' };
  if (previous && (previous.kind === 'and' || previous.kind === 'or' || previous.kind === 'not' || isPrefix(previous))) {
    return { ok: false, message: `ends with "${previous.text}"` };
  }
  return undefined;
}

/** A term that only makes sense glued to a following group: `field:` or `-`. */
function isPrefix(token: Token): boolean {
  return token.kind === 'term' && (token.text.endsWith(':') || token.text === '-');
}
