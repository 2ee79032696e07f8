import { isLevel, statusesFor } from '../datadog/levels.ts';
import { anyOf, checkQuery, type Token } from '../datadog/search-syntax.ts';
import { badRequest } from '../errors.ts';

/** Tinkr's field aliases for the log level (tinkr.md §2.2). */
const LEVEL_ALIASES = /^(level|lvl|severity):/i;
const LEVEL_NAMES: Record<string, string> = { warning: 'warn', fatal: 'critical', err: 'error' };

/**
 * Rewrites Tinkr's `level:ERROR` (and `lvl:`, `severity:`, `level:(ERROR OR WARN)`) into
 * Datadog's `status:` with every raw status of that level; everything else passes unchanged.
 * The result is what the Tinkr CLI's `diff` and `investigate` expect to match.
 */
export function rewriteTinkrQuery(query: string): string {
  const check = checkQuery(query);
  if (!check.ok) throw badRequest('query', `the search query ${check.message}`);
  const tokens = check.tokens;
  const edits: Array<{ start: number; end: number; text: string }> = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.kind !== 'term' || !LEVEL_ALIASES.test(token.text)) continue;
    const value = token.text.replace(LEVEL_ALIASES, '');
    if (value !== '') {
      edits.push({ start: token.start, end: token.end, text: statusClause(value) });
      continue;
    }
    // `level:(A OR B)`: drop the prefix, map each term of the group.
    edits.push({ start: token.start, end: token.end, text: '' });
    let depth = 0;
    for (let j = i + 1; j < tokens.length; j++) {
      const inner: Token = tokens[j]!;
      if (inner.kind === 'lparen') depth++;
      else if (inner.kind === 'rparen' && --depth === 0) break;
      else if (inner.kind === 'term') edits.push({ start: inner.start, end: inner.end, text: statusClause(inner.text) });
    }
  }
  let out = query;
  for (const edit of edits.sort((a, b) => b.start - a.start)) {
    out = out.slice(0, edit.start) + edit.text + out.slice(edit.end);
  }
  return out;
}

function statusClause(rawValue: string): string {
  const value = rawValue.replace(/^"(.*)"$/, '$1').toLowerCase();
  const level = LEVEL_NAMES[value] ?? value;
  return isLevel(level) ? anyOf('status', statusesFor([level])) : `status:${rawValue}`;
}
