import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MAX_REMEMBERED_QUERY_CHARS, routeValidatorCompiler } from '../../src/http/validation.ts';
import { commaList } from '../../src/schemas/common.ts';

/** The query-string shortcut: the same result for the same query string, never for a refusal. */

const schema = z.object({ service: commaList('service', z.string(), 'services'), limit: z.coerce.number().int().max(10).default(5) }).strict();
const compile = (httpPart: string) => routeValidatorCompiler({ schema, method: 'GET', url: '/x', httpPart } as Parameters<typeof routeValidatorCompiler>[0]);

type Result = { value?: { service?: string[]; limit: number }; error?: unknown };

describe('route validation', () => {
  it('gives a query string it validated before the same frozen result', () => {
    const validate = compile('querystring');
    const first = validate({ service: 'a,b', limit: '3' }) as Result;
    expect(first.value).toEqual({ service: ['a', 'b'], limit: 3 });
    const again = validate({ service: 'a,b', limit: '3' }) as Result;
    expect(again).toBe(first);
    expect(Object.isFrozen(first.value)).toBe(true);
    expect(Object.isFrozen(first.value!.service)).toBe(true);
    expect(validate({ service: 'a,c', limit: '3' })).not.toBe(first);
  });

  it('validates refusals, long query strings and other parts every time', () => {
    const validate = compile('querystring');
    const refused = validate({ limit: '11' }) as Result;
    expect(refused.error).toBeDefined();
    expect(validate({ limit: '11' })).not.toBe(refused);
    const long = { service: 'x'.repeat(MAX_REMEMBERED_QUERY_CHARS) };
    expect(validate(long)).not.toBe(validate(long));
    const body = compile('body');
    expect(body({ limit: 1 })).not.toBe(body({ limit: 1 }));
  });
});
