import { z } from 'zod';
import { ERROR_CODES } from '../errors.ts';

/** Shared pieces of the public request and response schemas (DESIGN §4). */

/** Most values in one comma list: enough for any dashboard, bounded for the query built from it. */
export const MAX_LIST_ITEMS = 50;
/** Longest single parameter value other than `query` and `cursor`. */
export const MAX_VALUE_LENGTH = 200;

/** A printable value: no control characters, which no service, env or tag legitimately holds. */
const printable = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[^\p{Cc}]*$/u, 'must not contain control characters');

/**
 * A comma list (`service=a,b`). A repeated parameter (`service=a&service=b`) means the same.
 * Items are trimmed; empty items are dropped.
 */
export function commaList<T extends z.ZodType<string>>(item: T, description: string) {
  return z
    .preprocess(
      (value) => {
        const parts = (Array.isArray(value) ? value : [value]).flatMap((v) => (typeof v === 'string' ? v.split(',') : [v]));
        return parts.map((p) => (typeof p === 'string' ? p.trim() : p)).filter((p) => p !== '');
      },
      z.array(item).max(MAX_LIST_ITEMS, `at most ${MAX_LIST_ITEMS} items`),
    )
    .optional()
    .describe(description);
}

export const serviceName = printable(MAX_VALUE_LENGTH);
export const plainValue = printable(MAX_VALUE_LENGTH);

export const timeParams = {
  from: z
    .string()
    .max(64)
    .optional()
    .describe('Start: ISO 8601 with an offset, epoch milliseconds, `now` or `now-15m` (units s m h d w). Default `now-15m`.'),
  to: z.string().max(64).optional().describe('End, same formats as `from`. Default `now`.'),
  since: z.string().max(16).optional().describe('Shorthand for `from=now-<since>&to=now`, e.g. `15m`, `1h`, `7d`. Not combinable with `from`/`to`.'),
};

export const sortParam = z.enum(['desc', 'asc']).default('desc').describe('`desc` (newest first) or `asc`.');

export const cursorParam = z
  .string()
  .max(4096)
  .optional()
  .describe('The `meta.next_cursor` of a previous response, with the same other parameters.');

export const queryParam = z
  .string()
  .max(4000)
  .optional()
  .describe('Datadog search syntax, composed with the other filters by AND. Default `*`.');

export const limitParam = (max: number, fallback: number) =>
  z.coerce
    .number()
    .int()
    .min(1)
    .max(max)
    .default(fallback)
    .describe(`Items to return, 1-${max} (default ${fallback}); the server pages upstream to fill it.`);

export const warningSchema = z.object({ code: z.string(), message: z.string() });

/** `meta.bucket_s` of every query route. */
export const bucketSchema = z
  .number()
  .describe(
    'Seconds of the time bucket a relative range was snapped to (so refreshes within one bucket share one cached answer); 0 when the range was absolute.',
  );

export const searchMetaSchema = z.object({
  from: z.string().describe('Start of the searched range, ISO 8601 UTC.'),
  to: z.string(),
  count: z.number().int(),
  next_cursor: z.string().nullable().describe('Pass as `cursor` for the next page; null at the end.'),
  partial: z.boolean().describe('True when the answer is known to be incomplete; `warnings` says why.'),
  warnings: z.array(warningSchema),
  bucket_s: bucketSchema,
});

export const jsonObject = z.record(z.string(), z.unknown());

/** RFC 9457 problem details (DESIGN §4.6). */
export const problemSchema = z
  .object({
    type: z.literal('about:blank'),
    title: z.string(),
    status: z.number().int(),
    code: z.enum(Object.keys(ERROR_CODES) as [keyof typeof ERROR_CODES, ...Array<keyof typeof ERROR_CODES>]),
    detail: z.string(),
    request_id: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .describe('application/problem+json');

/** The error answers every authenticated query route can give. */
export const queryErrorResponses = {
  400: problemSchema,
  401: problemSchema,
  403: problemSchema,
  429: problemSchema,
  502: problemSchema,
  503: problemSchema,
  504: problemSchema,
};
