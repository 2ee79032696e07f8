import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemSchema } from '../../src/schemas/common.ts';
import { recordingUpstream, startApp, type TestApp } from '../helpers/app.ts';

/**
 * Every parameter of every route, given a bad value, is a 400 whose `errors[].message` says what
 * is allowed (`limit must be 1–5000`), never a library's words; and nothing goes upstream. The
 * table is checked against the served OpenAPI document, so a new parameter needs a case here.
 */

const { upstream, sent } = recordingUpstream();
let app: TestApp;
beforeAll(async () => {
  app = await startApp({ upstream });
});
afterAll(() => app.close());

const LEVELS = /level must be one of debug, info, warn, error, critical/;
const INSTANT = /ISO 8601 with an offset.*epoch milliseconds.*now/;
const DURATION = /such as (15m|30m)/;
const long = (n: number) => 'a'.repeat(n);

type Case = { param: string; send: string | Record<string, unknown>; path: string; message: RegExp };
/** The parameters both aggregate routes add to their search's filters. */
const AGGREGATE_CASES: Case[] = [
  { param: 'compute', send: 'compute=p95:@duration', path: 'compute', message: /compute must be count, or one of .* followed by :@field/ },
  { param: 'group_by', send: 'group_by=a,b,c,d', path: 'group_by', message: /group_by must be up to 3 different facets/ },
  { param: 'limit', send: 'limit=101', path: 'limit', message: /limit must be 1–100 \(a whole number\)/ },
  { param: 'interval', send: 'interval=10s', path: 'interval', message: /interval must be a bucket width from 30s to 1d/ },
  { param: 'from', send: 'from=soon', path: 'from', message: INSTANT },
  { param: 'to', send: 'to=soon', path: 'to', message: INSTANT },
  { param: 'since', send: 'since=ever', path: 'since', message: DURATION },
];
/** Per route (as the OpenAPI document names it): one bad value of each parameter. */
const CASES: Record<string, Case[]> = {
  'GET /logs': [
    { param: 'service', send: `service=${long(201)}`, path: 'service.0', message: /service must be 1–200 characters/ },
    { param: 'query', send: `query=${long(4001)}`, path: 'query', message: /query must be .*at most 4000 characters/ },
    { param: 'level', send: 'level=loud', path: 'level.0', message: LEVELS },
    { param: 'from', send: 'from=yesterday', path: 'from', message: INSTANT },
    { param: 'to', send: `to=${'1'.repeat(65)}`, path: 'to', message: /to must be .*at most 64 characters/ },
    { param: 'since', send: 'since=forever', path: 'since', message: DURATION },
    { param: 'limit', send: 'limit=5001', path: 'limit', message: /limit must be 1–5000/ },
    { param: 'sort', send: 'sort=newest', path: 'sort', message: /sort must be one of desc, asc/ },
    { param: 'cursor', send: `cursor=${long(4097)}`, path: 'cursor', message: /cursor must be the meta\.next_cursor of a previous answer/ },
    { param: 'storage_tier', send: 'storage_tier=cold', path: 'storage_tier', message: /storage_tier must be one of indexes, online-archives, flex/ },
    { param: 'indexes', send: 'indexes=no%20spaces', path: 'indexes.0', message: /indexes must be index names of 1–100 letters/ },
  ],
  'GET /logs/tail': [
    { param: 'service', send: `service=${long(201)}`, path: 'service.0', message: /service must be 1–200 characters/ },
    { param: 'query', send: `query=${long(4001)}`, path: 'query', message: /query must be .*at most 4000 characters/ },
    { param: 'level', send: 'level=loud', path: 'level.0', message: LEVELS },
    { param: 'limit', send: 'limit=1001', path: 'limit', message: /limit must be 0–1000 \(a whole number\)/ },
  ],
  'GET /logs/aggregate': [
    { param: 'service', send: `service=${long(201)}`, path: 'service.0', message: /service must be 1–200 characters/ },
    { param: 'query', send: `query=${long(4001)}`, path: 'query', message: /query must be .*at most 4000 characters/ },
    { param: 'level', send: 'level=loud', path: 'level.0', message: LEVELS },
    { param: 'storage_tier', send: 'storage_tier=cold', path: 'storage_tier', message: /storage_tier must be one of indexes, online-archives, flex/ },
    { param: 'indexes', send: 'indexes=a%20b', path: 'indexes.0', message: /indexes must be index names/ },
    ...AGGREGATE_CASES,
  ],
  'GET /traces/aggregate': [
    { param: 'service', send: `service=${long(201)}`, path: 'service.0', message: /service must be 1–200 characters/ },
    { param: 'query', send: `query=${long(4001)}`, path: 'query', message: /query must be .*at most 4000 characters/ },
    { param: 'env', send: `env=${long(201)}`, path: 'env', message: /env must be 1–200 characters/ },
    { param: 'operation', send: `operation=${long(201)}`, path: 'operation', message: /operation must be 1–200 characters/ },
    { param: 'resource', send: `resource=${long(1001)}`, path: 'resource', message: /resource must be one resource name of 1–1000 characters/ },
    { param: 'status', send: 'status=failed', path: 'status', message: /status must be one of ok, error/ },
    ...AGGREGATE_CASES,
  ],
  'GET /metrics': [
    { param: 'query', send: 'query=', path: 'query', message: /query must be one Datadog metric query of 1–4000 characters/ },
    { param: 'metric', send: 'metric=9bad', path: 'metric', message: /metric must be a Datadog metric name: a letter, then/ },
    { param: 'service', send: 'metric=a&service=a%20b', path: 'service', message: /service must be 1–200 letters, digits/ },
    { param: 'aggregation', send: 'metric=a&aggregation=median', path: 'aggregation', message: /aggregation must be one of avg, sum, min, max/ },
    { param: 'group_by', send: 'metric=a&group_by=9host', path: 'group_by.0', message: /group_by must be tag keys: a letter/ },
    { param: 'from', send: 'metric=a&from=2026-11-25T04:00:00', path: 'from', message: /add one .*"Z"/ },
    { param: 'to', send: 'metric=a&to=later', path: 'to', message: INSTANT },
    { param: 'since', send: 'metric=a&since=0m', path: 'since', message: DURATION },
  ],
  'GET /traces': [
    { param: 'service', send: 'service=a%01b', path: 'service.0', message: /service must be 1–200 characters without control characters/ },
    { param: 'query', send: `query=${long(4001)}`, path: 'query', message: /query must be .*at most 4000 characters/ },
    { param: 'env', send: `env=${long(201)}`, path: 'env', message: /env must be 1–200 characters/ },
    { param: 'operation', send: 'operation=', path: 'operation', message: /operation must be 1–200 characters/ },
    { param: 'resource', send: `resource=${long(1001)}`, path: 'resource', message: /resource must be one resource name of 1–1000 characters/ },
    { param: 'status', send: 'status=failed', path: 'status', message: /status must be one of ok, error/ },
    { param: 'from', send: 'from=soon', path: 'from', message: INSTANT },
    { param: 'to', send: 'to=soon', path: 'to', message: INSTANT },
    { param: 'since', send: 'since=1y', path: 'since', message: DURATION },
    { param: 'limit', send: 'limit=0', path: 'limit', message: /limit must be 1–5000 \(a whole number\)/ },
    { param: 'sort', send: 'sort=up', path: 'sort', message: /sort must be one of desc, asc/ },
    { param: 'cursor', send: `cursor=${long(4097)}`, path: 'cursor', message: /cursor must be/ },
  ],
  'GET /traces/{trace_id}': [
    { param: 'trace_id', send: '', path: 'trace_id', message: /trace_id must be a decimal 64-bit id .* or a 32-character hex 128-bit id/ },
    { param: 'from', send: 'from=soon', path: 'from', message: INSTANT },
    { param: 'to', send: 'to=soon', path: 'to', message: INSTANT },
    { param: 'since', send: 'since=always', path: 'since', message: DURATION },
  ],
  'POST /api/v1/logs': [
    { param: 'service', send: { service: undefined }, path: 'body.service', message: /service must be 1–200 characters/ },
    { param: 'query', send: { query: 42 }, path: 'body.query', message: /query must be one Datadog search query/ },
    { param: 'start', send: { start: undefined }, path: 'body.start', message: /start must be an ISO 8601 date-time with an offset/ },
    { param: 'end', send: { end: 'tomorrow' }, path: 'body.end', message: INSTANT },
    { param: 'limit', send: { limit: 5001 }, path: 'body.limit', message: /limit must be 1–5000/ },
    { param: 'resource_type', send: { resource_type: 7 }, path: 'body.resource_type', message: /resource_type must be null or a text/ },
  ],
  'POST /api/v1/metrics': [
    { param: 'service', send: { service: '' }, path: 'body.service', message: /service must be 1–200 characters/ },
    { param: 'metric', send: { metric: '' }, path: 'body.metric', message: /metric must be a metric name or a Datadog metric query, 1–4000 characters/ },
    { param: 'start', send: { start: 'then' }, path: 'body.start', message: INSTANT },
    { param: 'end', send: { end: 12 }, path: 'body.end', message: /end must be an ISO 8601 date-time/ },
  ],
  'POST /api/v1/anomalies': [
    { param: 'service', send: { service: 5 }, path: 'body.service', message: /service must be 1–200 characters/ },
    { param: 'window_minutes', send: { window_minutes: 0 }, path: 'body.window_minutes', message: /window_minutes must be 1–525600 \(a whole number of minutes\)/ },
  ],
  'POST /api/v1/slo': [
    { param: 'service', send: { service: null }, path: 'body.service', message: /service must be 1–200 characters/ },
    { param: 'target_pct', send: { target_pct: 101 }, path: 'body.target_pct', message: /target_pct must be a percentage from 0 to 100/ },
    { param: 'window', send: { window: 30 }, path: 'body.window', message: /window must be a whole number of days, hours or minutes/ },
  ],
  'POST /api/v1/traces': [
    { param: 'service', send: { service: ['a'] }, path: 'body.service', message: /service must be 1–200 characters/ },
    { param: 'since', send: { since: 'ages' }, path: 'body.since', message: /such as 30m, 1h or 2d/ },
    { param: 'limit', send: { limit: 101 }, path: 'body.limit', message: /limit must be 1–100/ },
    { param: 'tags', send: { tags: 'env:prod' }, path: 'body.tags', message: /tags must be null or an object of at most 20 tags/ },
  ],
};

const VALID_BODY: Record<string, Record<string, unknown>> = {
  '/api/v1/anomalies': { service: 'checkout' },
  '/api/v1/slo': { service: 'checkout' },
  '/api/v1/logs': { service: 'checkout', start: '2026-11-25T03:00:00+00:00', end: '2026-11-25T04:00:00+00:00' },
  '/api/v1/metrics': { service: 'checkout', metric: 'system.cpu.user', start: '2026-11-25T03:00:00+00:00', end: '2026-11-25T04:00:00+00:00' },
  '/api/v1/traces': { service: 'checkout' },
};

/** Zod's and Fastify's own wording, which names neither the field nor what it allows. */
const LIBRARY_TEXT = /^Invalid|Too (big|small)|expected (string|number|object|array)|received|Unrecognized/;

async function send(route: string, c: Case): Promise<Response> {
  const [method, path] = route.split(' ') as [string, string];
  if (method === 'POST') return app.post(path, { ...VALID_BODY[path], ...(c.send as Record<string, unknown>) });
  const url = path.replace('{trace_id}', c.param === 'trace_id' ? 'xyz' : '5108427196612763385');
  return app.get(`${url}?${c.send as string}`);
}

describe('validation messages say what is allowed', () => {
  it('cover every parameter of every route in the OpenAPI document', async () => {
    const doc: any = await (await fetch(`${app.url}/openapi.json`)).json();
    const documented: Record<string, string[]> = {};
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(item)) {
        const names = [
          ...(op.parameters ?? []).map((p: { name: string }) => p.name),
          ...Object.keys(op.requestBody?.content?.['application/json']?.schema?.properties ?? {}),
        ];
        if (names.length > 0) documented[`${method.toUpperCase()} ${path}`] = names.sort();
      }
    }
    const covered = Object.fromEntries(Object.entries(CASES).map(([route, cases]) => [route, [...new Set(cases.map((c) => c.param))].sort()]));
    expect(covered).toEqual(documented);
  });

  for (const [route, cases] of Object.entries(CASES)) {
    it.each(cases.map((c) => [c.param, c] as const))(`${route}: a bad %s is a 400 naming what is allowed`, async (_param, c) => {
      const before = sent.length;
      const res = await send(route, c);
      expect(res.status).toBe(400);
      const problem = problemSchema.parse(await res.json());
      expect(problem.code).toBe('BAD_REQUEST');
      const error = problem.errors?.find((e) => e.path === c.path);
      expect(error, JSON.stringify(problem.errors)).toBeDefined();
      expect(error!.message).toMatch(c.message);
      for (const e of problem.errors ?? []) expect(e.message).not.toMatch(LIBRARY_TEXT);
      expect(sent.length).toBe(before);
    });
  }

  it('names the parameters a route takes when one is unknown', async () => {
    const problem = problemSchema.parse(await (await app.get('/logs?lvl=error')).json());
    expect(problem.errors).toEqual([{ path: 'querystring', message: expect.stringMatching(/^unknown parameter "lvl"; this route takes service, query, level, from/) }]);
  });

  it('names the live tail\'s own parameters, not those of GET /logs', async () => {
    const problem = problemSchema.parse(await (await app.get('/logs/tail?since=5m')).json());
    expect(problem.errors).toEqual([{ path: 'querystring', message: 'unknown parameter "since"; this route takes service, query, level, limit' }]);
  });

  it('accepts fatal (any case) as critical', async () => {
    const res = await app.get('/logs?level=FATAL,warn');
    expect(res.status).toBe(200);
    const query = JSON.stringify(sent.at(-1)?.body);
    expect(query).toContain('\\"critical\\"');
    expect(query).toContain('\\"warning\\"');
  });
});
