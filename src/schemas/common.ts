import { z } from 'zod';
import { ERROR_CODES } from '../errors.ts';
import { WARNING_CODES } from '../warnings.ts';
import { parseTimeSpec, TIME_NAMES, type AskedRange, type TimeNames, type TimeParams } from '../time/range.ts';

/** Shared pieces of the public request and response schemas (docs/http-api.md). */

/** Most values in one comma list: enough for any dashboard, bounded for the query built from it. */
export const MAX_LIST_ITEMS = 50;
/** Longest single parameter value other than `query` and `cursor`. */
export const MAX_VALUE_LENGTH = 200;

/**
 * Every field says what it allows when a value is refused (`limit must be 1–5000`), for every
 * way it can be wrong: missing, of the wrong type, out of range. Never the library's own text
 * ("Too big: expected number to be <=5000"), which names neither the field nor the rule.
 */
export const must = (name: string, allowed: string) => `${name} must be ${allowed}`;

/** `unknown parameter "x"; this route takes a, b, c`: a typo is named with the right names beside it. */
export function strictParams<T extends z.ZodRawShape>(shape: T) {
  const names = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown parameter${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}; this route takes ${names}`
        : `the query string must be parameters among ${names}`,
  });
}

/** A printable value: no control characters, which no service, env or tag legitimately holds. */
export const printable = (name: string, max: number) => {
  const rule = must(name, `1–${max} characters without control characters`);
  return z
    .string({ error: rule })
    .min(1, rule)
    .max(max, rule)
    .regex(/^[^\p{Cc}]*$/u, rule);
};

/**
 * A comma list (`service=a,b`). A repeated parameter (`service=a&service=b`) means the same.
 * Items are trimmed; empty items are dropped.
 */
export function commaList<T extends z.ZodType<string>>(name: string, item: T, description: string) {
  return z
    .preprocess(
      (value) => {
        const parts = (Array.isArray(value) ? value : [value]).flatMap((v) => (typeof v === 'string' ? v.split(',') : [v]));
        return parts.map((p) => (typeof p === 'string' ? p.trim() : p)).filter((p) => p !== '');
      },
      z.array(item).max(MAX_LIST_ITEMS, `${name} takes at most ${MAX_LIST_ITEMS} items`),
    )
    .optional()
    .describe(description);
}

export const serviceName = printable('service', MAX_VALUE_LENGTH);
export const plainValue = (name: string) => printable(name, MAX_VALUE_LENGTH);

const INSTANT = 'ISO 8601 with an offset (2026-11-25T04:00:00Z), epoch milliseconds, now or now-15m (units s m h d w)';
/** `from`/`to` as text, bounded; `timed` reads them into instants. */
const instantText = (name: string) => z.string({ error: must(name, `one value: ${INSTANT}`) }).max(64, must(name, `${INSTANT}, at most 64 characters`));

/** from/to/since as the query string carries them; a route's schema reads them with `timed`. */
export const timeParams = {
  from: instantText('from').optional().describe('Start: ISO 8601 with an offset, epoch milliseconds, `now` or `now-15m` (units s m h d w). Default `now-15m`.'),
  to: instantText('to').optional().describe('End, same formats as `from`. Default `now`.'),
  since: z
    .string({ error: must('since', 'one duration such as 15m, 1h or 7d (units s m h d w)') })
    .max(16, must('since', 'a duration such as 15m, 1h or 7d (units s m h d w)'))
    .optional()
    .describe('Shorthand for `from=now-<since>&to=now`, e.g. `15m`, `1h`, `7d`. Not combinable with `from`/`to`.'),
};

/**
 * The time a request asks for, read once at the edge (inside its schema): from/to/since, or the
 * body fields `names` says they were written as, become one AskedRange with the defaults filled
 * in (time/range.ts); each problem is an issue on the field the caller wrote. `reportAt` is where
 * a problem only the resolved range shows (reversed, too long) is reported when it is resolved.
 */
export function readTime(
  written: TimeParams,
  ctx: z.RefinementCtx,
  options: { defaultSpanMs: number; names?: TimeNames; reportAt?: string },
): AskedRange {
  const names = options.names ?? TIME_NAMES;
  const parsed = parseTimeSpec(written, options.defaultSpanMs, names, options.reportAt);
  if (parsed.ok) return parsed.spec;
  for (const problem of parsed.problems) ctx.addIssue({ code: 'custom', path: [problem.path], message: problem.message, input: written });
  // Never used: the issues fail the parse.
  return z.NEVER;
}

/**
 * A GET route's parameters read into what its service takes: from/to/since into one `time`
 * (readTime), the rest by `build`, which may add issues of its own (rules across parameters).
 * Every problem, of the time or of `build`, is reported at once.
 */
export function timed<S extends z.ZodType<TimeParams>, R>(
  schema: S,
  defaultSpanMs: number,
  build: (params: Omit<z.output<S>, keyof TimeParams>, time: AskedRange, ctx: z.RefinementCtx) => R,
) {
  return schema.transform((params, ctx) => {
    const { from, to, since, ...rest } = params as z.output<S> & TimeParams;
    const time = readTime({ from, to, since }, ctx, { defaultSpanMs });
    return build(rest as Omit<z.output<S>, keyof TimeParams>, time, ctx);
  });
}

export const sortParam = z
  .enum(['desc', 'asc'], { error: must('sort', 'one of desc, asc') })
  .default('desc')
  .describe('`desc` (newest first) or `asc`.');

const CURSOR_RULE = must('cursor', 'the meta.next_cursor of a previous answer, as given (at most 4096 characters)');
export const cursorParam = z
  .string({ error: CURSOR_RULE })
  .max(4096, CURSOR_RULE)
  .optional()
  .describe('The `meta.next_cursor` of a previous response, with the same other parameters.');

const QUERY_RULE = must('query', 'one Datadog search query of at most 4000 characters');
export const queryParam = z
  .string({ error: QUERY_RULE })
  .max(4000, QUERY_RULE)
  .optional()
  .describe('Datadog search syntax, composed with the other filters by AND. Default `*`.');

/** A whole number in 1–max; `coerce` because query-string values arrive as text. */
export const countOf = (name: string, max: number, coerce: boolean) => {
  const rule = must(name, `1–${max} (a whole number)`);
  return (coerce ? z.coerce.number({ error: rule }) : z.number({ error: rule })).int(rule).min(1, rule).max(max, rule);
};

export const limitParam = (max: number, fallback: number) =>
  countOf('limit', max, true)
    .default(fallback)
    .describe(`Items to return, 1-${max} (default ${fallback}); the server pages upstream to fill it.`);

/** One warning of `meta.warnings`; its code is one of src/warnings.ts, listed in the OpenAPI document. */
export const warningSchema = z.object({
  code: z
    .string()
    .describe(
      `What is missing or held back: ${Object.entries(WARNING_CODES)
        .map(([code, meaning]) => `\`${code}\` (${meaning})`)
        .join('; ')}; or \`datadog_<code>\` for a warning Datadog gave with its answer.`,
    ),
  message: z.string().describe('The same in words, for people.'),
});

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

/** RFC 9457 problem details (docs/http-api.md#errors). */
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
  .describe('An RFC 9457 problem (application/problem+json)');

/** A problem answer, described for the API documentation by the codes it carries. */
export const problemResponse = (description: string) => problemSchema.describe(description);

/** The error answers every authenticated query route can give, each described by what causes it. */
export const queryErrorResponses = {
  400: problemResponse('`BAD_REQUEST`: a parameter is invalid (`errors` says which and what is allowed); or `UPSTREAM_BAD_QUERY`: Datadog rejected the query'),
  401: problemResponse('`UNAUTHENTICATED`: no bearer token, or an unknown one (`WWW-Authenticate: Bearer`)'),
  403: problemResponse("`FORBIDDEN`: the key's roles or its service/env scope do not allow this"),
  429: problemResponse(
    "`RATE_LIMITED`: this key's own quota is spent; or `UPSTREAM_RATE_LIMITED`: Datadog's budget is spent and nothing fresh enough is cached (`Retry-After`)",
  ),
  502: problemResponse("`UPSTREAM_AUTH`: Datadog refused the server's keys; or `UPSTREAM_ERROR`: Datadog failed or sent a malformed answer"),
  503: problemResponse('`NOT_READY`: the server is overloaded, shutting down, or has too many Datadog calls queued (`Retry-After`)'),
  504: problemResponse('`UPSTREAM_TIMEOUT`: Datadog did not answer within the request deadline'),
};
