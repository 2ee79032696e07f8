import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify';
import { validatorCompiler } from 'fastify-type-provider-zod';
import { LRUCache } from 'lru-cache';

/**
 * Request validation with the routes' zod schemas (fastify-type-provider-zod), with one
 * shortcut: a query string a route has already validated gets the same result again. Dashboards
 * ask the same few URLs over and over, and validating one anew (lists split, numbers coerced,
 * defaults filled in) costs as much as the rest of a cache hit's own work. Validation is a pure
 * function of the query string, so the result can be kept; it is frozen, because every request
 * of that query string shares it.
 */

/** Query strings kept per route: the distinct panels of a busy fleet, many times over. */
export const MAX_REMEMBERED_QUERIES = 1_000;
/** Longer query strings are validated every time; dashboards' are far shorter, and this bounds the memory. */
export const MAX_REMEMBERED_QUERY_CHARS = 1_024;

type Validate = (data: unknown) => { value?: unknown; error?: FastifySchemaValidationError[] | Error };

export const routeValidatorCompiler: FastifySchemaCompiler<unknown> = (route) => {
  const validate = validatorCompiler(route as Parameters<typeof validatorCompiler>[0]) as Validate;
  if (route.httpPart !== 'querystring') return validate;
  const remembered = new LRUCache<string, { value: unknown }>({ max: MAX_REMEMBERED_QUERIES });
  return (data: unknown) => {
    const key = JSON.stringify(data);
    if (key.length > MAX_REMEMBERED_QUERY_CHARS) return validate(data);
    const known = remembered.get(key);
    if (known) return known;
    const result = validate(data);
    if (result.error !== undefined) return result;
    const kept = { value: deepFreeze(result.value) };
    remembered.set(key, kept);
    return kept;
  };
};

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
