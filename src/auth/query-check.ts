import { checkQuery } from '../datadog/search-syntax.ts';
import { badRequest } from '../errors.ts';
import { checkNamedScope, isScoped, UNRESTRICTED, type Scope } from './scope.ts';

/**
 * The caller's search query, checked; `*` for an empty one. BAD_REQUEST names what is wrong.
 * For a scoped key the syntax check is strict and naming a service or env outside the scope is
 * FORBIDDEN (see scope.ts).
 */
export function validQuery(query: string | undefined, path = 'query', scope: Scope = UNRESTRICTED): string {
  const q = (query ?? '').trim();
  if (q === '') return '*';
  const check = checkQuery(q, { strict: isScoped(scope) });
  if (!check.ok) throw badRequest(path, `the search query ${check.message}`);
  checkNamedScope(check.tokens, scope);
  return q;
}
