import { badRequest } from '../errors.ts';
import { checkQuery } from '../datadog/search-syntax.ts';

/** The caller's search query, checked; `*` for an empty one. BAD_REQUEST names what is wrong. */
export function validQuery(query: string | undefined, path = 'query'): string {
  const q = (query ?? '').trim();
  if (q === '') return '*';
  const check = checkQuery(q);
  if (!check.ok) throw badRequest(path, `the search query ${check.message}`);
  return q;
}
