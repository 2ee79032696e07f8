import { QuerySyntaxError, type Comparison, type Matcher, type Node, type Pattern, type PatternPart } from './ast.ts';

/**
 * A parser for the Datadog log/span search syntax, strict where Datadog is strict so that the
 * gateway's quoting and escaping can be tested against it:
 *
 * - `*`, free text (`timeout`), quoted phrases (`"connection reset"`);
 * - `field:value` (reserved attributes and tags) and `@path.to.attr:value` (attributes);
 * - values bare (`\` escapes any character, unescaped `*`/`?` are wildcards) or double-quoted
 *   (`\"` and `\\` escapes, wildcards literal);
 * - `field:(a OR "b c")`, ranges `[400 TO 499]` / `{a TO b}`, comparisons `>=500`;
 * - `AND`, `OR`, `NOT` (upper case only, as in Datadog), leading `-`, parentheses, and implicit
 *   AND between terms. NOT binds tighter than AND, which binds tighter than OR.
 *
 * Unbalanced parentheses or quotes, dangling operators and empty groups are syntax errors.
 */

/** Longest query accepted; Datadog rejects very long queries too and this bounds parse work. */
export const MAX_QUERY_LENGTH = 8_192;
/** Deepest nesting of parentheses and NOTs; bounds recursion on hostile input. */
export const MAX_QUERY_DEPTH = 64;

const FIELD_NAME = /^@?[A-Za-z0-9_][A-Za-z0-9_.\-@]*$/;

type Token =
  | { kind: 'lparen' | 'rparen' | 'and' | 'or' | 'not' | 'neg'; at: number }
  | { kind: 'group'; field: string; at: number }
  | { kind: 'term'; field: string | undefined; matcher: Matcher; at: number; star: boolean };

export function parseSearchQuery(query: string): Node {
  if (query.length > MAX_QUERY_LENGTH) {
    throw new QuerySyntaxError(`query is longer than ${MAX_QUERY_LENGTH} characters`, MAX_QUERY_LENGTH);
  }
  const tokens = tokenize(query);
  if (tokens.length === 0) return { kind: 'all' };
  return new Parser(tokens, query.length).parse();
}

function isSpace(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r';
}

function tokenize(q: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < q.length) {
    const ch = q[i]!;
    if (isSpace(ch)) {
      i++;
    } else if (ch === '(' || ch === ')') {
      tokens.push({ kind: ch === '(' ? 'lparen' : 'rparen', at: i });
      i++;
    } else if (ch === '-') {
      // A `-` that starts a token negates what follows; inside a word (`payments-api`) it is text.
      if (i + 1 >= q.length || isSpace(q[i + 1]) || q[i + 1] === ')') throw new QuerySyntaxError('"-" with nothing after it', i);
      tokens.push({ kind: 'neg', at: i });
      i++;
    } else {
      i = readTerm(q, i, tokens);
    }
  }
  return tokens;
}

/** Reads one term (or operator keyword) starting at `start`; returns where it ended. */
function readTerm(q: string, start: number, tokens: Token[]): number {
  if (q[start] === '"') {
    const quoted = readQuoted(q, start);
    expectTermEnd(q, quoted.end);
    tokens.push({ kind: 'term', field: undefined, matcher: { kind: 'pattern', pattern: quoted.pattern }, at: start, star: false });
    return quoted.end;
  }
  const head = readBare(q, start, true);
  const raw = q.slice(start, head.end);
  if (q[head.end] !== ':') {
    if (!head.escaped && (raw === 'AND' || raw === 'OR' || raw === 'NOT')) {
      tokens.push({ kind: raw === 'AND' ? 'and' : raw === 'OR' ? 'or' : 'not', at: start });
    } else {
      const star = !head.escaped && raw === '*';
      tokens.push({ kind: 'term', field: undefined, matcher: { kind: 'pattern', pattern: head.pattern }, at: start, star });
    }
    return head.end;
  }
  if (head.escaped || !FIELD_NAME.test(raw)) throw new QuerySyntaxError(`invalid field name "${raw}"`, start);
  const field = raw;
  let i = head.end + 1;
  const next = q[i];
  if (next === undefined || isSpace(next) || next === ')') {
    throw new QuerySyntaxError(`missing value after "${field}:"`, i);
  }
  if (next === '(') {
    tokens.push({ kind: 'group', field, at: start });
    return i + 1;
  }
  if (next === '[' || next === '{') {
    const range = readRange(q, i);
    tokens.push({ kind: 'term', field, matcher: range.matcher, at: start, star: false });
    return range.end;
  }
  if (next === '>' || next === '<') {
    const op: Comparison = q[i + 1] === '=' ? (`${next}=` as Comparison) : (next as Comparison);
    i += op.length;
    const value = readScalar(q, i);
    if (value.text === '') throw new QuerySyntaxError(`missing value after "${field}:${op}"`, i);
    tokens.push({ kind: 'term', field, matcher: { kind: 'compare', op, value: value.text }, at: start, star: false });
    return value.end;
  }
  if (next === '"') {
    const quoted = readQuoted(q, i);
    expectTermEnd(q, quoted.end);
    tokens.push({ kind: 'term', field, matcher: { kind: 'pattern', pattern: quoted.pattern }, at: start, star: false });
    return quoted.end;
  }
  const value = readBare(q, i, false);
  tokens.push({ kind: 'term', field, matcher: { kind: 'pattern', pattern: value.pattern }, at: start, star: false });
  return value.end;
}

function expectTermEnd(q: string, at: number): void {
  const ch = q[at];
  if (ch !== undefined && !isSpace(ch) && ch !== ')' && ch !== '(') {
    throw new QuerySyntaxError(`unexpected character "${ch}" after a quoted value`, at);
  }
}

/** A bare word: `\` escapes anything, `*`/`?` are wildcards, a quote inside is an error. */
function readBare(q: string, start: number, stopAtColon: boolean): { pattern: Pattern; end: number; escaped: boolean } {
  const parts: PatternPart[] = [];
  let text = '';
  let escaped = false;
  let i = start;
  const flush = (): void => {
    if (text !== '') parts.push({ kind: 'text', text });
    text = '';
  };
  while (i < q.length) {
    const ch = q[i]!;
    if (isSpace(ch) || ch === '(' || ch === ')' || (stopAtColon && ch === ':')) break;
    if (ch === '\\') {
      if (i + 1 >= q.length) throw new QuerySyntaxError('query ends with a lone backslash', i);
      text += q[i + 1];
      escaped = true;
      i += 2;
      continue;
    }
    if (ch === '"') throw new QuerySyntaxError('unexpected double quote inside a value (escape it as \\")', i);
    if (ch === '*' || ch === '?') {
      flush();
      parts.push(ch === '*' ? { kind: 'any' } : { kind: 'one' });
    } else {
      text += ch;
    }
    i++;
  }
  flush();
  return { pattern: { parts, quoted: false }, end: i, escaped };
}

/** A double-quoted value starting at the quote; `\"` and `\\` (any `\x`) are escapes. */
function readQuoted(q: string, start: number): { pattern: Pattern; end: number } {
  let text = '';
  let i = start + 1;
  while (i < q.length) {
    const ch = q[i]!;
    if (ch === '\\') {
      if (i + 1 >= q.length) break;
      text += q[i + 1];
      i += 2;
      continue;
    }
    if (ch === '"') return { pattern: { parts: text === '' ? [] : [{ kind: 'text', text }], quoted: true }, end: i + 1 };
    text += ch;
    i++;
  }
  throw new QuerySyntaxError('unterminated quoted string', start);
}

/** A comparison operand: bare (escapes allowed, no wildcards) or quoted. */
function readScalar(q: string, start: number): { text: string; end: number } {
  if (q[start] === '"') {
    const quoted = readQuoted(q, start);
    expectTermEnd(q, quoted.end);
    return { text: textOf(quoted.pattern), end: quoted.end };
  }
  const bare = readBare(q, start, false);
  if (bare.pattern.parts.some((p) => p.kind !== 'text')) throw new QuerySyntaxError('wildcards are not allowed in a comparison', start);
  return { text: textOf(bare.pattern), end: bare.end };
}

function textOf(pattern: Pattern): string {
  return pattern.parts.map((p) => (p.kind === 'text' ? p.text : p.kind === 'any' ? '*' : '?')).join('');
}

/** `[low TO high]` (inclusive) or `{low TO high}` (exclusive); `*` leaves a side open. */
function readRange(q: string, start: number): { matcher: Matcher; end: number } {
  const open = q[start]!;
  const close = open === '[' ? ']' : '}';
  const end = q.indexOf(close, start + 1);
  if (end < 0) throw new QuerySyntaxError(`unterminated range, missing "${close}"`, start);
  const body = q.slice(start + 1, end).trim();
  const bounds = body.split(/\s+TO\s+/);
  if (bounds.length !== 2 || bounds.some((b) => b === '' || /[\s"()[\]{}]/.test(b))) {
    throw new QuerySyntaxError(`invalid range "${q.slice(start, end + 1)}", expected [low TO high]`, start);
  }
  expectTermEnd(q, end + 1);
  const [low, high] = bounds as [string, string];
  return {
    matcher: { kind: 'range', low: low === '*' ? undefined : low, high: high === '*' ? undefined : high, inclusive: open === '[' },
    end: end + 1,
  };
}

class Parser {
  readonly #tokens: Token[];
  readonly #length: number;
  #pos = 0;
  #depth = 0;
  #field: string | undefined;

  constructor(tokens: Token[], length: number) {
    this.#tokens = tokens;
    this.#length = length;
  }

  parse(): Node {
    const node = this.#or();
    const extra = this.#tokens[this.#pos];
    if (extra) {
      if (extra.kind === 'rparen') throw new QuerySyntaxError('unbalanced parentheses: unexpected ")"', extra.at);
      throw new QuerySyntaxError('unexpected token', extra.at);
    }
    return node;
  }

  #peek(): Token | undefined {
    return this.#tokens[this.#pos];
  }

  #where(): number {
    return this.#peek()?.at ?? this.#length;
  }

  #startsOperand(token: Token | undefined): boolean {
    return token !== undefined && (token.kind === 'term' || token.kind === 'lparen' || token.kind === 'group' || token.kind === 'not' || token.kind === 'neg');
  }

  #or(): Node {
    const children = [this.#and()];
    while (this.#peek()?.kind === 'or') {
      this.#pos++;
      if (!this.#startsOperand(this.#peek())) throw new QuerySyntaxError('"OR" with nothing after it', this.#where());
      children.push(this.#and());
    }
    return children.length === 1 ? children[0]! : { kind: 'or', children };
  }

  #and(): Node {
    const first = this.#peek();
    if (first?.kind === 'and' || first?.kind === 'or') {
      throw new QuerySyntaxError(`"${first.kind.toUpperCase()}" with nothing before it`, first.at);
    }
    const children = [this.#unary()];
    for (;;) {
      const next = this.#peek();
      if (next?.kind === 'and') {
        this.#pos++;
        if (!this.#startsOperand(this.#peek())) throw new QuerySyntaxError('"AND" with nothing after it', this.#where());
        children.push(this.#unary());
      } else if (this.#startsOperand(next)) {
        children.push(this.#unary());
      } else {
        break;
      }
    }
    return children.length === 1 ? children[0]! : { kind: 'and', children };
  }

  #unary(): Node {
    const token = this.#peek();
    if (token?.kind === 'not' || token?.kind === 'neg') {
      this.#pos++;
      if (!this.#startsOperand(this.#peek())) {
        throw new QuerySyntaxError(`"${token.kind === 'not' ? 'NOT' : '-'}" with nothing after it`, this.#where());
      }
      return { kind: 'not', child: this.#nested(() => (token.kind === 'not' ? this.#unary() : this.#primary())) };
    }
    return this.#primary();
  }

  #primary(): Node {
    const token = this.#peek();
    if (!token) throw new QuerySyntaxError('unexpected end of query', this.#length);
    switch (token.kind) {
      case 'term': {
        this.#pos++;
        if (token.field === undefined && this.#field === undefined && token.star) return { kind: 'all' };
        return { kind: 'term', field: token.field ?? this.#field, matcher: token.matcher };
      }
      case 'lparen':
      case 'group': {
        this.#pos++;
        if (this.#peek()?.kind === 'rparen') throw new QuerySyntaxError('empty parentheses "()"', token.at);
        const outer = this.#field;
        if (token.kind === 'group') {
          if (outer !== undefined) throw new QuerySyntaxError(`field group "${token.field}:(" inside another field group`, token.at);
          this.#field = token.field;
        }
        const inner = this.#nested(() => this.#or());
        this.#field = outer;
        if (this.#peek()?.kind !== 'rparen') throw new QuerySyntaxError('unbalanced parentheses: missing ")"', token.at);
        this.#pos++;
        return inner;
      }
      case 'rparen':
        throw new QuerySyntaxError('unbalanced parentheses: unexpected ")"', token.at);
      default:
        throw new QuerySyntaxError(`"${token.kind === 'neg' ? '-' : token.kind.toUpperCase()}" in an unexpected place`, token.at);
    }
  }

  #nested(parse: () => Node): Node {
    if (++this.#depth > MAX_QUERY_DEPTH) throw new QuerySyntaxError(`query is nested deeper than ${MAX_QUERY_DEPTH} levels`, this.#where());
    try {
      return parse();
    } finally {
      this.#depth--;
    }
  }
}
