import { anyOf, type Token } from '../datadog/search-syntax.ts';
import { AppError, badRequest } from '../errors.ts';
import { shortHash } from '../hash.ts';

/**
 * What a caller's key may read (docs/access-control.md `[auth]`): a set of services and optionally one env.
 * Undefined fields mean "unrestricted". Every upstream query made for the key is constrained to
 * it, so the key cannot read past it whatever it writes in `query`:
 *
 * - logs and spans: the scope is a top-level AND clause (`service:"a" AND env:"prod" AND (...)`)
 *   and the caller's own text is checked strictly so it cannot leave its parentheses;
 * - metrics: built queries carry the scope in their `{...}`; raw ones are accepted only when
 *   every `{...}` is proven inside the scope (datadog/metric-scope.ts);
 * - a request that names a service or env outside the scope is refused with 403, so a caller
 *   learns why rather than getting an empty answer.
 */
export interface Scope {
  services?: readonly string[] | undefined;
  env?: string | undefined;
}

export const UNRESTRICTED: Scope = {};

export function isScoped(scope: Scope): boolean {
  return scope.services !== undefined || scope.env !== undefined;
}

/**
 * A stable, non-secret name of a scope: '' when unrestricted. Keys with the same scope share a
 * partition (they may read the same data); the order and repetition of services do not matter.
 */
export function scopePartition(scope: Scope): string {
  if (!isScoped(scope)) return '';
  const services = scope.services ? [...new Set(scope.services)].sort() : null;
  return shortHash(JSON.stringify([services, scope.env ?? null]), 16);
}

function forbidden(what: 'service' | 'env', values: readonly string[]): AppError {
  const named = values.map((v) => JSON.stringify(v.slice(0, 100))).join(', ');
  return new AppError('FORBIDDEN', `${what} ${named} is outside this key's scope`);
}

/**
 * The services a search may cover: the requested ones when all are inside the scope (403
 * otherwise), or the whole scope when none were requested.
 */
export function servicesWithin(requested: readonly string[], scope: Scope): readonly string[] {
  if (!scope.services) return requested;
  if (requested.length === 0) return scope.services;
  const outside = requested.filter((s) => !scope.services!.includes(s));
  if (outside.length > 0) throw forbidden('service', outside);
  return requested;
}

/** The env a search may cover: the requested one if it is the scope's (403 otherwise). */
export function envWithin(requested: string | undefined, scope: Scope): string | undefined {
  if (scope.env === undefined) return requested;
  if (requested !== undefined && requested !== scope.env) throw forbidden('env', [requested]);
  return scope.env;
}

/** Search clauses for services and env (absent when unrestricted and not asked for). */
export function scopeClauses(services: readonly string[], env: string | undefined): Array<string | undefined> {
  return [services.length > 0 ? anyOf('service', services) : undefined, env !== undefined ? anyOf('env', [env]) : undefined];
}

/**
 * A value the server quotes into a query itself (`operation`, `resource`, a tag). For a scoped
 * key it may not hold `"` or `\`: quoting would escape them, and the strict rule is that nothing
 * in a scoped query depends on how a parser reads escapes.
 */
export function checkQuotedValue(path: string, value: string, scope: Scope): void {
  if (isScoped(scope) && /["\\]/.test(value)) {
    throw badRequest(path, 'a scoped key cannot search for values containing double quotes or backslashes');
  }
}

const SCOPE_FIELD = /^-?(service|env):/i;

/**
 * 403 when the caller's query names a service or env outside the key's scope (`service:other`,
 * `-service:other`, `env:(prod OR staging)`), or names one in a way that cannot be proven inside
 * it (wildcards, ranges, comparisons). The scope clause would make such a query match nothing
 * outside the scope anyway; the refusal tells the caller why.
 */
export function checkNamedScope(tokens: readonly Token[], scope: Scope): void {
  if (!isScoped(scope)) return;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    const field = token.kind === 'term' ? SCOPE_FIELD.exec(token.text) : null;
    if (!field) continue;
    const what = field[1]!.toLowerCase() as 'service' | 'env';
    const inline = token.text.slice(field[0].length);
    const values: string[] = [];
    if (inline !== '') {
      values.push(inline);
    } else {
      // `service:(a OR b)`: every term inside the group is a value.
      let depth = 0;
      for (let j = i + 1; j < tokens.length; j++) {
        const inner = tokens[j]!;
        if (inner.kind === 'lparen') depth++;
        else if (inner.kind === 'rparen' && --depth === 0) break;
        else if (inner.kind === 'term') values.push(inner.text.replace(/^-/, ''));
      }
    }
    for (const raw of values) checkNamedValue(what, raw, scope);
  }
}

function checkNamedValue(what: 'service' | 'env', raw: string, scope: Scope): void {
  const allowed = what === 'service' ? scope.services : scope.env !== undefined ? [scope.env] : undefined;
  if (!allowed) return;
  const value = literalValue(raw);
  if (value === undefined) {
    throw new AppError('FORBIDDEN', `the query matches ${what} by a wildcard, range or comparison, which cannot be proven inside this key's scope; name the ${what} exactly`);
  }
  if (!allowed.includes(value)) throw forbidden(what, [value]);
}

/** The literal a search value stands for, or undefined when it is a pattern, range or comparison. */
function literalValue(raw: string): string | undefined {
  if (raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"')) return raw.slice(1, -1).replace(/\\(.)/gs, '$1');
  if (/^[[{<>]/.test(raw)) return undefined;
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch === '\\') {
      out += raw[i + 1] ?? '';
      i++;
    } else if (ch === '*' || ch === '?' || ch === '"') {
      return undefined;
    } else {
      out += ch;
    }
  }
  return out;
}
