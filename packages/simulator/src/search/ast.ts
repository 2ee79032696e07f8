/**
 * The parsed form of a Datadog log/span search query (`service:web* AND -status:error`).
 * Parsing and evaluation are separate so tests can check each, and so the pager can inspect a
 * query (e.g. pin it to one trace) before running it.
 */

/** One piece of a value: literal text, `*` (any run of characters) or `?` (one character). */
export type PatternPart = { kind: 'text'; text: string } | { kind: 'any' } | { kind: 'one' };

/** A value as written, after escapes are resolved; wildcards only come from unescaped `*`/`?`. */
export interface Pattern {
  readonly parts: readonly PatternPart[];
  /** True when written in double quotes (then `*` and `?` are literal). */
  readonly quoted: boolean;
}

export type Comparison = '>' | '>=' | '<' | '<=';

export type Matcher =
  | { kind: 'pattern'; pattern: Pattern }
  | { kind: 'range'; low: string | undefined; high: string | undefined; inclusive: boolean }
  | { kind: 'compare'; op: Comparison; value: string };

export type Node =
  | { kind: 'all' }
  | { kind: 'and'; children: Node[] }
  | { kind: 'or'; children: Node[] }
  | { kind: 'not'; child: Node }
  /** `field` is as written, `@` included; undefined means free text. */
  | { kind: 'term'; field: string | undefined; matcher: Matcher };

/** A query the parser rejected, with Datadog-style wording and where it went wrong. */
export class QuerySyntaxError extends Error {
  readonly position: number;
  constructor(message: string, position: number) {
    super(message);
    this.name = 'QuerySyntaxError';
    this.position = position;
  }
}

/** The literal text of a pattern when it has no wildcard, else undefined. */
export function literalOf(pattern: Pattern): string | undefined {
  let text = '';
  for (const part of pattern.parts) {
    if (part.kind !== 'text') return undefined;
    text += part.text;
  }
  return text;
}
