/**
 * Datadog log/span search syntax: quoting values, composing clauses, and checking the structure
 * of a caller's query before it is wrapped in parentheses.
 *
 * Why the check matters: a query is composed as `service:"a" AND (<caller query>)`. If the
 * caller's text could close that parenthesis (`x) OR (service:b`) or leave a quote open, it
 * would change what the composed query means. A query whose parentheses balance, whose quotes
 * and ranges close and which has no dangling operator cannot escape its wrapping.
 *
 * For a scoped key the check is `strict`: it also refuses every construct whose structure
 * depends on details of the grammar a parser could read differently (escaped parentheses or
 * quotes, quotes or parentheses glued inside a word, Unicode spaces and invisible characters).
 * What is left has the same parentheses under any reasonable reading, escape-aware or not, so
 * the wrapping holds even if Datadog's parser differs from ours in those details.
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
/**
 * Deepest nesting of parentheses in a caller query. Nobody writes more than a handful; the
 * bound keeps the composed query (one level deeper) well inside what Datadog and our own
 * simulator parse.
 */
export const MAX_QUERY_DEPTH = 32;

export interface CheckOptions {
  /** Refuse every construct parsers could disagree on (see the file comment); for scoped keys. */
  strict?: boolean;
}

/**
 * Characters a strict query may not hold: control characters other than tab and newlines,
 * invisible format characters (zero-width, bidi overrides) and every space but the ASCII one.
 * A parser that took one of these for a space (or not) would split terms differently.
 */
const AMBIGUOUS_CHARACTER = /[\p{Cf}\p{Zl}\p{Zp}]|(?![ ])\p{Zs}|(?![\t\n\r])\p{Cc}/u;
/** After a backslash, these would change the structure if the backslash were read literally. */
const STRUCTURAL_AFTER_BACKSLASH = /["\\()[\]{}]/;

/** Tokenizes a query and checks that it is structurally whole. */
export function checkQuery(query: string, options: CheckOptions = {}): SyntaxCheck {
  if (query.length > MAX_QUERY_LENGTH) return { ok: false, message: `longer than ${MAX_QUERY_LENGTH} characters` };
  const strict = options.strict === true;
  if (strict) {
    const odd = AMBIGUOUS_CHARACTER.exec(query);
    if (odd) {
      const code = odd[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
      return { ok: false, message: `has character U+${code} (a control, invisible or non-ASCII space character)` };
    }
  }
  const tokens: Token[] = [];
  let i = 0;
  while (i < query.length) {
    const ch = query[i]!;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (ch === '(' || ch === ')') {
      if (strict) {
        const glued = gluedParenthesis(query, i, tokens.at(-1));
        if (glued) return { ok: false, message: glued };
      }
      tokens.push({ kind: ch === '(' ? 'lparen' : 'rparen', start: i, end: i + 1, text: ch });
      i++;
      continue;
    }
    const start = i;
    const scanned = scanTerm(query, i, strict);
    if (!scanned.ok) return scanned;
    i = scanned.end;
    const text = query.slice(start, i);
    const kind: TokenKind = text === 'AND' ? 'and' : text === 'OR' ? 'or' : text === 'NOT' ? 'not' : 'term';
    tokens.push({ kind, start, end: i, text });
  }
  const grammar = checkGrammar(tokens);
  return grammar ?? { ok: true, tokens };
}

/**
 * Strict mode: a parenthesis must stand apart from words (`a (b)`, `(a) b`), except a group
 * opened right after `field:` or `-`. In `a(b` a parser could take the parenthesis as text.
 */
function gluedParenthesis(query: string, at: number, previous: Token | undefined): string | undefined {
  if (query[at] === '(') {
    const before = query[at - 1];
    if (before === undefined || /\s/.test(before) || before === '(') return undefined;
    if (previous && previous.end === at && isPrefix(previous)) return undefined;
    return 'has a "(" glued to the word before it; put a space before it';
  }
  const after = query[at + 1];
  if (after === undefined || /\s/.test(after) || after === ')') return undefined;
  return 'has a ")" glued to the word after it; put a space after it';
}

/** Reads one term: up to whitespace or a parenthesis outside quotes, ranges and escapes. */
function scanTerm(query: string, from: number, strict: boolean): { ok: true; end: number } | { ok: false; message: string } {
  let i = from;
  while (i < query.length) {
    const ch = query[i]!;
    if (ch === '\\') {
      if (i + 1 >= query.length) return { ok: false, message: 'ends with a lone backslash' };
      if (strict && STRUCTURAL_AFTER_BACKSLASH.test(query[i + 1]!)) {
        return { ok: false, message: `has an escaped "${query[i + 1]}"; put the text in double quotes instead` };
      }
      i += 2;
      continue;
    }
    if (ch === '"') {
      if (strict && !startsValue(query.slice(from, i))) {
        return { ok: false, message: 'has a double quote inside a word; a quoted phrase must start the term or follow "field:"' };
      }
      const close = closingQuote(query, i + 1, strict);
      if (close < 0) return { ok: false, message: 'has an unclosed double quote' };
      if (strict) {
        const escaped = escapedStructure(query.slice(i + 1, close));
        if (escaped) return { ok: false, message: escaped };
        const after = query[close + 1];
        if (after !== undefined && !/\s/.test(after) && after !== ')') {
          return { ok: false, message: 'has a quoted phrase glued to the text after it; put a space after the closing quote' };
        }
      }
      i = close + 1;
      continue;
    }
    if (ch === '[' || ch === '{') {
      const closer = ch === '[' ? ']' : '}';
      const close = query.indexOf(closer, i + 1);
      if (close < 0) return { ok: false, message: `has an unclosed range "${ch}"` };
      const body = query.slice(i + 1, close);
      if (/[()"]/.test(body) || (strict && /[\\[\]{}]/.test(body))) return { ok: false, message: 'has a malformed range' };
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

/** Where the quote opened before `from` closes; in strict mode an escape never hides a quote. */
function closingQuote(query: string, from: number, strict: boolean): number {
  for (let i = from; i < query.length; i++) {
    if (query[i] === '\\' && !strict) i++;
    else if (query[i] === '"') return i;
  }
  return -1;
}

/** Strict mode: inside a phrase, `\\` and a trailing `\` would move its end under another reading. */
function escapedStructure(phrase: string): string | undefined {
  for (let i = 0; i < phrase.length; i++) {
    if (phrase[i] !== '\\') continue;
    const next = phrase[i + 1];
    if (next === undefined || STRUCTURAL_AFTER_BACKSLASH.test(next)) {
      return `has an escaped "${next ?? '"'}" inside a quoted phrase, which a scoped key may not use`;
    }
    i++;
  }
  return undefined;
}

/** The text before a quote in the same term: nothing, `-`, or a `field:` prefix. */
function startsValue(before: string): boolean {
  return before === '' || before === '-' || before.endsWith(':');
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
        if (depth > MAX_QUERY_DEPTH) return { ok: false, message: `nests parentheses deeper than ${MAX_QUERY_DEPTH} levels` };
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
