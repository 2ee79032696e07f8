import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { problemSchema } from '../../src/schemas/common.ts';
import { TEST_NOW as NOW } from '../helpers/manual-clock.ts';
import { provenWithinScope, type OracleScope } from '../helpers/scope-oracle.ts';
import { scopedKey } from '../helpers/scoped-keys.ts';
import { sharedStack } from '../helpers/stack.ts';

/**
 * Property-based hostile input over every route: random and Unicode strings, huge values,
 * injection attempts, duplicated parameters, arrays where strings are expected, deep JSON and
 * prototype-pollution keys, sent as random callers (unrestricted, scoped, env-scoped, no token).
 *
 * For every answer: a documented status (2xx or 4xx, never 5xx); a problem+json body that
 * matches the problem schema when it is an error; no stack trace or internal path; and for a
 * scoped key, every request the simulator received proven inside the key's scope by the
 * simulator's own parsers (test/helpers/scope-oracle.ts). Runs are seeded and bounded so the
 * suite stays a few seconds and a failure replays exactly.
 */
const SEED = 20_261_125;
/** Runs per route: enough to mix hostile and valid inputs many times over, in a few seconds. */
const RUNS = 60;

interface Caller {
  name: string;
  token: string | undefined;
  scope: OracleScope | undefined;
}

const CALLERS: Caller[] = [
  { name: 'unrestricted', token: 'hostile-full', scope: {} },
  { name: 'payments', token: 'hostile-payments', scope: { services: ['payments-api'] } },
  { name: 'payments-prod', token: 'hostile-payments-prod', scope: { services: ['payments-api', 'ledger'], env: 'prod' } },
  { name: 'staging', token: 'hostile-staging', scope: { env: 'staging' } },
  { name: 'anonymous', token: undefined, scope: undefined },
  { name: 'wrong token', token: 'not-a-key', scope: undefined },
];

const { stack } = sharedStack({ keys: CALLERS.filter((c) => c.scope && c.token !== 'not-a-key').map((c) => scopedKey(c.token!, c.token!, c.scope!).config) });

// ---- arbitraries ----------------------------------------------------------------------------

const TIME = ['from', 'to', 'since'];

/** Texts that have broken parsers, scopes or servers before. */
const INJECTIONS = [
  '* OR service:checkout',
  'x) OR (service:checkout',
  '(x)) OR ((*',
  '"a) OR service:checkout OR (b"',
  'a" OR service:"checkout',
  '"x\\" ) OR * OR ( \\"y"',
  'a\\) OR * OR \\(b',
  'error\\',
  '-service:checkout',
  'NOT service:checkout',
  'service:payments-api*',
  'service:*',
  'service:(payments-api OR checkout)',
  'env:staging',
  'env:(prod OR staging)',
  'SERVICE:checkout',
  'service:p\u0430yments-api',
  'x\uFF09 OR \uFF08service:checkout',
  'error\u2028OR service:checkout',
  'error\u00A0OR\u00A0service:checkout',
  '\u202Eservice:checkout',
  'a\u0000b',
  '\n) OR (\n',
  '{', '}', '[', ']', '(', ')', '"', '\\', '\\\\', ':', '*', '?', '-', '!', '&&', '||',
  'avg:trace.web.request.hits{*}',
  'avg:trace.web.request.hits{service:payments-api},avg:trace.web.request.hits{*}',
  'avg:trace.web.request.hits{service:payments-api} + avg:trace.web.request.hits{*}',
  'avg:trace.web.request.hits{service:payments-api OR service:checkout}',
  'avg:trace.web.request.hits{!service:checkout}',
  '__proto__',
  'constructor',
  'prototype',
  "'; DROP TABLE logs; --",
  '../../etc/passwd',
  '${jndi:ldap://127.0.0.1/x}',
  '<script>alert(1)</script>',
  '%00',
  '%',
  '\uD800',
  '😀'.repeat(50),
];

/** Values that are (or are close to) valid, so many requests get past validation to upstream. */
const PLAUSIBLE = [
  'payments-api', 'ledger', 'checkout', 'prod', 'staging', 'error', 'warn', 'info', 'debug', 'critical',
  'error,warn', 'payments-api,ledger', 'web.request', 'POST /charge', '*', 'timeout', 'status:error',
  '@http.status_code:[500 TO 599]', 'service:payments-api', 'service:ledger env:prod', '1h', '15m', '5m', 'now',
  'now-1h', 'now-30m', '2026-11-25T03:30:00Z', '2026-11-25T03:30:00', '1764041400000', 'desc', 'asc', '10', '1', '100',
  '5000', '0', '-1', 'avg', 'sum', 'host', 'env,host', 'main', 'flex', 'indexes',
  'trace.web.request.hits', 'system.cpu.user', 'avg:trace.web.request.hits{service:payments-api}',
  'sum:trace.web.request.errors{service:ledger,env:prod} by {host}.as_count()', 'avg:system.cpu.user{env:staging}',
];

const hostileText: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...PLAUSIBLE) },
  { weight: 3, arbitrary: fc.constantFrom(...INJECTIONS) },
  { weight: 2, arbitrary: fc.array(fc.constantFrom(...INJECTIONS, ...PLAUSIBLE), { minLength: 2, maxLength: 5 }).chain((parts) => fc.constantFrom(' ', '', '\n', ' AND ', ',').map((sep) => parts.join(sep))) },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom('a'.repeat(4001), 'x'.repeat(20_000), '9'.repeat(400), `${'('.repeat(40)}a${')'.repeat(40)}`) },
);

/** Values each parameter accepts, hostile ones among them where the parameter is free text. */
const SEARCHES = [
  '*', 'error', 'timeout OR refused', '-status:info', '@http.status_code:[500 TO 599]', 'service:payments-api', 'service:ledger env:prod', 'env:staging',
  '"a) OR service:checkout OR (b"', 'x "a ) OR * OR ( b"', 'error\uFF09 OR \uFF08timeout', `${'('.repeat(30)}error${')'.repeat(30)}`, 'NOT (error OR warn)', '-(service:payments-api)', 'host:ip-* @duration:>1000',
];
/** Terms and operators a search is built from: mostly valid, with scope attempts among them. */
const TERMS = [
  'error', 'timeout', '*', 'status:error', '-status:info', 'host:ip-*', '@http.status_code:>=500', '"connection reset"',
  '"a) OR (b"', 'service:payments-api', 'service:ledger', 'env:prod', 'service:checkout', 'env:staging', '\uFF08x\uFF09', 'x\\:y', 'NOT warn',
];
const OPERATORS = [' ', ' OR ', ' AND ', ' AND NOT ', ' OR -', '\n'];
/** Well-formed searches of random shape: ORs at every level are what a scope must survive. */
const { search } = fc.letrec<{ search: string }>((tie) => ({
  search: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(...TERMS),
    fc.tuple(tie('search'), fc.constantFrom(...OPERATORS), tie('search')).map(([a, op, b]) => `${a}${op}${b}`),
    tie('search').map((inner) => `(${inner})`),
  ),
}));

const VALID: Record<string, fc.Arbitrary<string>> = {
  service: fc.constantFrom('payments-api', 'ledger', 'checkout', 'payments-api,ledger', 'p\u0430yments-api', 'payments-*'),
  query: fc.oneof({ weight: 3, arbitrary: search }, { weight: 1, arbitrary: fc.constantFrom(...SEARCHES, ...INJECTIONS.slice(0, 20)) }),
  level: fc.constantFrom('error', 'warn,error', 'critical', 'info,debug'),
  env: fc.constantFrom('prod', 'staging'),
  operation: fc.constantFrom('web.request', 'db.query'),
  resource: fc.constantFrom('POST /charge', 'GET /v1/balance'),
  status: fc.constantFrom('ok', 'error'),
  metric: fc.constantFrom('trace.web.request.hits', 'system.cpu.user', 'trace.web.request.errors'),
  group_by: fc.constantFrom('host', 'env,host', 'service'),
  aggregation: fc.constantFrom('avg', 'sum', 'max'),
  limit: fc.constantFrom('1', '20', '200'),
  sort: fc.constantFrom('asc', 'desc'),
  since: fc.constantFrom('5m', '1h', '2d'),
  from: fc.constantFrom('now-1h', '2026-11-25T03:30:00Z', '1764041400000'),
  to: fc.constantFrom('now', '2026-11-25T03:59:00+00:00'),
};

const METRIC_QUERIES = [
  'avg:trace.web.request.hits{service:payments-api}',
  'sum:trace.web.request.errors{service:ledger,env:prod} by {host}.as_count()',
  'avg:system.cpu.user{env:staging} by {host}',
  'avg:system.cpu.user{service:payments-api,env:prod}.rollup(max, 60)',
  ...INJECTIONS.filter((i) => i.startsWith('avg:')),
];

/** Base parameters a hostile one takes the place of. */
const REPLACES: Record<string, string[]> = { from: ['since'], to: ['since'], query: ['metric'] };

/** A parameter value: once, duplicated, or many times. */
const paramValue = fc.oneof({ weight: 5, arbitrary: hostileText.map((v) => [v]) }, { weight: 1, arbitrary: fc.array(hostileText, { minLength: 2, maxLength: 4 }) });

/**
 * Query parameters: either several hostile ones at once, or a valid base with one parameter
 * made hostile (so that many requests pass validation and reach upstream, where the scope is
 * what is being tested).
 */
function params(names: readonly string[], base: Record<string, string>, valid: Record<string, fc.Arbitrary<string>> = VALID): fc.Arbitrary<Array<[string, string]>> {
  // The parameters a scope can be attacked through are picked half of the time.
  const scopeNames = names.filter((n) => ['query', 'service', 'env'].includes(n));
  const pick = scopeNames.length > 0 ? fc.oneof(fc.constantFrom(...scopeNames), fc.constantFrom(...names)) : fc.constantFrom(...names);
  const flatten = (entries: Array<[string, string[]]>) => entries.flatMap(([name, values]) => values.map((v): [string, string] => [name, v]));
  const known = fc.dictionary(fc.constantFrom(...names), paramValue, { maxKeys: 6 });
  const unknown = fc.dictionary(fc.constantFrom('__proto__', 'constructor', 'service[]', 'query[0]', 'x', '', 'limit ', 'SERVICE'), paramValue, { maxKeys: 1 });
  const many = fc.tuple(known, fc.oneof({ weight: 6, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: unknown })).map(([a, b]) => flatten([...Object.entries(a), ...Object.entries(b)]));
  const value = (name: string) =>
    fc.oneof({ weight: 3, arbitrary: (valid[name] ?? fc.constantFrom(...PLAUSIBLE)).map((v) => [v]) }, { weight: 2, arbitrary: paramValue });
  const one = pick.chain((name) => value(name).map((values): [string, string[]] => [name, values])).map(([name, values]) => {
    const entries: Array<[string, string[]]> = Object.entries(base).map(([k, v]) => [k, [v]]);
    // from/to replace the base's since, and a raw metric query its metric, rather than clash.
    const kept = entries.filter(([k]) => k !== name && !(REPLACES[name] ?? []).includes(k));
    return flatten([...kept, [name, values]]);
  });
  return fc.oneof({ weight: 1, arbitrary: many }, { weight: 3, arbitrary: one });
}

const callerArb = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...CALLERS.slice(0, 4)) }, { weight: 1, arbitrary: fc.constantFrom(...CALLERS.slice(4)) });

const routes = {
  logs: params(['service', 'query', 'level', 'limit', 'sort', 'cursor', 'storage_tier', 'indexes', ...TIME], { since: '15m', limit: '20' }),
  traces: params(['service', 'query', 'env', 'operation', 'resource', 'status', 'limit', 'sort', 'cursor', ...TIME], { since: '15m', limit: '20' }),
  metrics: params(['query', 'metric', 'service', 'aggregation', 'group_by', ...TIME], { since: '1h', metric: 'trace.web.request.hits' }, { ...VALID, query: fc.constantFrom(...METRIC_QUERIES) }),
  trace: params(TIME, {}),
};

/**
 * A JSON body: a valid Tinkr body with one field made hostile (most of the time, so requests
 * reach upstream), several fields hostile at once, random JSON, prototype-pollution keys, deep
 * nesting, or raw hostile text.
 */
function tinkrBody(base: Record<string, unknown>, fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<string> {
  const value = fc.oneof(
    { weight: 4, arbitrary: hostileText },
    { weight: 1, arbitrary: fc.integer() },
    { weight: 1, arbitrary: fc.array(hostileText, { maxLength: 3 }) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  );
  const field = (name: string) => fc.oneof({ weight: 3, arbitrary: fields[name]! }, { weight: 1, arbitrary: value });
  const one = fc
    .constantFrom(...Object.keys(fields))
    .chain((name) => field(name).map((v) => ({ ...base, [name]: v })));
  const many = fc.record(Object.fromEntries(Object.keys(fields).map((k) => [k, field(k)])), { requiredKeys: [] });
  const plausible = fc.oneof({ weight: 3, arbitrary: one }, { weight: 1, arbitrary: many });
  return fc.oneof(
    { weight: 6, arbitrary: plausible.map((body) => JSON.stringify(body)) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 5 }).map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: plausible.map((body) => `{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},${JSON.stringify(body).slice(1)}`) },
    { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 60_000 }).map((depth) => `{"service":"payments-api","tags":${'['.repeat(depth)}${']'.repeat(depth)}}`) },
    { weight: 1, arbitrary: hostileText },
  );
}

const WINDOW = { start: '2026-11-25T03:00:00+00:00', end: '2026-11-25T04:00:00+00:00' };
const tinkrWindow = {
  start: fc.constantFrom(WINDOW.start, '2026-11-25T03:55:00Z', 'now-1h', '2026-11-25T03:00:00', 'yesterday'),
  end: fc.constantFrom(WINDOW.end, 'now', '2026-11-25T02:00:00Z'),
};
const service = fc.constantFrom('payments-api', 'ledger', 'checkout', 'payments-*', '');
const bodies = {
  logs: tinkrBody(
    { service: 'payments-api', query: '*', ...WINDOW, limit: 20 },
    { service, query: fc.oneof(search, hostileText), ...tinkrWindow, limit: fc.constantFrom(1, 20, 5000, 5001, 0, -1, 1.5) },
  ),
  metrics: tinkrBody(
    { service: 'payments-api', metric: 'trace.web.request.hits', ...WINDOW },
    { service, metric: fc.oneof(fc.constantFrom(...METRIC_QUERIES, 'trace.web.request.hits'), hostileText), ...tinkrWindow },
  ),
  traces: tinkrBody(
    { service: 'payments-api', since: '15m', limit: 5 },
    {
      service,
      since: fc.constantFrom('15m', '1h', '2d', '0m', '1y', 'now'),
      limit: fc.constantFrom(1, 5, 100, 101),
      tags: fc.oneof(fc.constant(null), fc.dictionary(fc.constantFrom('env', 'service', 'team', 'version', '__proto__', 'bad key', '@x'), fc.oneof(hostileText, fc.constantFrom('prod', 'staging', 'payments')), { maxKeys: 3 })),
    },
  ),
};

// ---- the property -----------------------------------------------------------------------------

/** Documented answers (docs/http-api.md#errors) a caller can get from inputs alone, with a healthy upstream. */
const DOCUMENTED = new Set([200, 400, 401, 403, 404, 413]);
const LEAK = /\n\s+at |\.ts:\d+|node_modules|file:\/\/|\/(?:work|home|usr|tmp)\/|DD-API-KEY|DD-APPLICATION-KEY/i;

const tally = { requests: 0, upstreamChecked: 0, byStatus: new Map<number, number>() };

async function send(caller: Caller, method: 'GET' | 'POST', path: string, body?: string, contentType = 'application/json'): Promise<void> {
  stack.sim.resetRequests();
  // no-cache: every request reaches the simulator, so every answer's upstream query is checked.
  const headers: Record<string, string> = { 'cache-control': 'no-cache' };
  if (caller.token) headers.authorization = `Bearer ${caller.token}`;
  if (body !== undefined) headers['content-type'] = contentType;
  const res = await fetch(stack.app.url + path, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  tally.requests++;
  tally.byStatus.set(res.status, (tally.byStatus.get(res.status) ?? 0) + 1);
  const where = `${caller.name} ${method} ${path.slice(0, 300)} ${body?.slice(0, 300) ?? ''}`;

  expect(DOCUMENTED.has(res.status), `${res.status} for ${where}: ${text.slice(0, 300)}`).toBe(true);
  if (res.status >= 400) {
    expect(res.headers.get('content-type'), where).toMatch(/^application\/problem\+json/);
    const problem = problemSchema.parse(JSON.parse(text));
    expect(problem.status, where).toBe(res.status);
    expect(problem.request_id).toBe(res.headers.get('x-request-id'));
    expect(text, where).not.toMatch(LEAK);
  } else {
    expect(res.headers.get('content-type'), where).toMatch(/^application\/json/);
    JSON.parse(text);
  }
  if (caller.scope && (caller.scope.services || caller.scope.env)) {
    for (const request of stack.sim.requests) {
      const verdict = provenWithinScope(request, caller.scope);
      expect(verdict, `${where}\n${JSON.stringify(request.body ?? request.query)}`).toMatchObject({ ok: true });
      tally.upstreamChecked++;
    }
  }
  stack.sim.assertNoViolations();
}

function query(pairs: Array<[string, string]>): string {
  const search = new URLSearchParams();
  for (const [k, v] of pairs) search.append(k, v);
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}

async function check(property: fc.IAsyncPropertyWithHooks<any> | fc.IAsyncProperty<any>): Promise<void> {
  await fc.assert(property, { numRuns: RUNS, seed: SEED, endOnFailure: true });
}

describe('hostile input, every route', () => {
  it('GET /logs', () => check(fc.asyncProperty(callerArb, routes.logs, (caller, p) => send(caller, 'GET', `/logs${query(p)}`))));

  it('GET /traces', () => check(fc.asyncProperty(callerArb, routes.traces, (caller, p) => send(caller, 'GET', `/traces${query(p)}`))));

  it('GET /traces/{trace_id}', () => {
    const sample = stack.sim.truth.sampleTraceId(NOW - 60_000, { template: 'checkout' });
    const id = fc.oneof(fc.constantFrom(sample, sample.toUpperCase(), '0', '18446744073709551616', 'f'.repeat(32), 'g'.repeat(32)), hostileText.filter((t) => t !== ''));
    return check(fc.asyncProperty(callerArb, id, routes.trace, (caller, traceId, p) => send(caller, 'GET', `/traces/${encodeURIComponent(traceId)}${query(p)}`)));
  });

  it('GET /metrics', () => check(fc.asyncProperty(callerArb, routes.metrics, (caller, p) => send(caller, 'GET', `/metrics${query(p)}`))));

  it('POST /api/v1/logs', () => check(fc.asyncProperty(callerArb, bodies.logs, (caller, body) => send(caller, 'POST', '/api/v1/logs', body))));

  it('POST /api/v1/metrics', () => check(fc.asyncProperty(callerArb, bodies.metrics, (caller, body) => send(caller, 'POST', '/api/v1/metrics', body))));

  it('POST /api/v1/traces', () => check(fc.asyncProperty(callerArb, bodies.traces, (caller, body) => send(caller, 'POST', '/api/v1/traces', body))));

  it('POST bodies of other types and sizes', () =>
    check(
      fc.asyncProperty(
        callerArb,
        fc.constantFrom('/api/v1/logs', '/api/v1/metrics', '/api/v1/traces'),
        fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16', 'application/json'),
        fc.oneof(hostileText, fc.constant('x'.repeat(70_000)), fc.constant(''), fc.constant('null'), fc.constant('[]')),
        (caller, path, type, body) => send(caller, 'POST', path, body, type),
      ),
    ));

  it('exercised the scope proof and the whole range of answers', () => {
    // Guards the suite itself: the generators must reach upstream for scoped keys, and produce
    // both successes and refusals, or the properties above would hold vacuously.
    expect(tally.upstreamChecked).toBeGreaterThan(50);
    for (const status of [200, 400, 401, 403]) expect(tally.byStatus.get(status) ?? 0, `answers with ${status}`).toBeGreaterThan(0);
  });
});
