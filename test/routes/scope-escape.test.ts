import { describe, expect, it } from 'vitest';
import { TEST_NOW as NOW } from '../helpers/manual-clock.ts';
import { scopedCalls, scopedKey } from '../helpers/scoped-keys.ts';
import { sharedStack } from '../helpers/stack.ts';

/**
 * Scoped keys against the real server and the simulator: every way out of a scope we know of,
 * one test each. Each test asserts the answer (403/400/200) and, from what the simulator
 * received, that no upstream query could return data outside the key's scope.
 */

const FULL = scopedKey('token-full', 'everything', {});
const PAY = scopedKey('token-payments', 'team-payments', { services: ['payments-api'] });
const PAY_PROD = scopedKey('token-payments-prod', 'payments-prod', { services: ['payments-api', 'ledger'], env: 'prod' });
const STAGING = scopedKey('token-staging', 'staging-only', { env: 'staging' });
const NO_ROLE = scopedKey('token-parked', 'parked', {}, []);
const ONCALL = scopedKey('token-oncall', 'oncall', { services: ['payments-api'] }, ['oncall']);

const { stack } = sharedStack({ keys: [FULL, PAY, PAY_PROD, STAGING, NO_ROLE, ONCALL].map((k) => k.config), reset: { clock: true } });
const { call, refused } = scopedCalls(stack);

const q = (query: string) => encodeURIComponent(query);
const services = (data: Array<{ service: string | null }>) => new Set(data.map((d) => d.service));

describe('logs and spans: the caller query cannot widen the scope', () => {
  it('query=* OR service:other names a service outside the scope: 403', async () => {
    const body = await refused(PAY, `/logs?query=${q('* OR service:checkout')}`, 403);
    expect(body.detail).toMatch(/service "checkout" is outside this key's scope/);
  });

  it('a query that closes the wrapping parenthesis is a 400', async () => {
    await refused(PAY, `/logs?query=${q('x) OR (service:checkout')}`, 400);
    await refused(PAY, `/logs?query=${q('x)) OR ((*')}`, 400);
  });

  it('unbalanced parentheses either way are a 400', async () => {
    await refused(PAY, `/logs?query=${q('(error')}`, 400);
    await refused(PAY, `/logs?query=${q('error)')}`, 400);
  });

  it('a quoted phrase holding parentheses stays one phrase, inside the scope', async () => {
    const answer = await call(PAY, `/logs?since=1h&query=${q('"a) OR service:checkout OR (b"')}`);
    expect(answer.status).toBe(200);
    expect(answer.upstream).toEqual(['service:"payments-api" AND ("a) OR service:checkout OR (b")']);
  });

  it('a quote opened inside a word is a 400; a phrase standing alone is only text', async () => {
    await refused(PAY, `/logs?query=${q('a" OR service:"checkout')}`, 400);
    const phrase = await call(PAY, `/logs?since=1h&query=${q('x "a ) OR service:checkout OR ( b"')}`);
    expect(phrase.status).toBe(200);
    expect(phrase.upstream).toEqual(['service:"payments-api" AND (x "a ) OR service:checkout OR ( b")']);
  });

  it('escaped quotes inside a phrase are a 400 for a scoped key', async () => {
    const body = await refused(PAY, `/logs?query=${q('"x\\" ) OR * OR ( \\"y"')}`, 400);
    expect(body.errors[0]).toMatchObject({ path: 'query' });
  });

  it('escaped parentheses are a 400 for a scoped key (a parser reading \\ literally would see them)', async () => {
    await refused(PAY, `/logs?query=${q('a\\) OR * OR \\(b')}`, 400);
    // The same text is structurally fine for an unrestricted key, which has no scope to leave.
    expect((await call(FULL, `/logs?since=1h&query=${q('a\\) OR * OR \\(b')}`)).status).toBe(200);
  });

  it('a trailing or doubled backslash is a 400', async () => {
    await refused(PAY, `/logs?query=${q('error\\')}`, 400);
    await refused(PAY, `/logs?query=${q('a\\\\) OR (*')}`, 400);
  });

  it('-service:other and NOT service:other name a service outside the scope: 403', async () => {
    await refused(PAY, `/logs?query=${q('-service:checkout')}`, 403);
    await refused(PAY, `/logs?query=${q('NOT service:checkout')}`, 403);
  });

  it('service groups and case variants of the field are checked too', async () => {
    await refused(PAY_PROD, `/logs?query=${q('service:(payments-api OR checkout)')}`, 403);
    await refused(PAY, `/logs?query=${q('SERVICE:checkout')}`, 403);
    const ok = await call(PAY_PROD, `/logs?since=1h&query=${q('service:(payments-api OR ledger)')}`);
    expect(ok.status).toBe(200);
  });

  it('wildcards on service in the query cannot be proven inside the scope: 403', async () => {
    await refused(PAY, `/logs?query=${q('service:payments-api*')}`, 403);
    await refused(PAY, `/logs?query=${q('service:*')}`, 403);
    await refused(PAY, `/logs?query=${q('service:[a TO z]')}`, 403);
  });

  it('a wildcard service parameter is not a service of the scope: 403', async () => {
    await refused(PAY, '/logs?service=payments-*', 403);
    await refused(PAY, '/logs?service=*', 403);
  });

  it('a Unicode look-alike of an in-scope service is another service: 403', async () => {
    // Cyrillic "а" (U+0430) in place of the Latin "a".
    await refused(PAY, `/logs?service=${q('p\u0430yments-api')}`, 403);
    await refused(PAY, `/logs?query=${q('service:p\u0430yments-api')}`, 403);
  });

  it('full-width parentheses are plain text, and the query stays inside the scope', async () => {
    const answer = await call(PAY, `/logs?since=1h&query=${q('error\uFF09 OR \uFF08timeout')}`);
    expect(answer.status).toBe(200);
    expect(answer.upstream).toEqual(['service:"payments-api" AND (error\uFF09 OR \uFF08timeout)']);
    // As a field name it is no field at all: Datadog (here the simulator) rejects the query.
    const field = await call(PAY, `/logs?since=1h&query=${q('x\uFF09 OR \uFF08service:checkout')}`);
    expect(field.body.code).toBe('UPSTREAM_BAD_QUERY');
  });

  it('newlines are whitespace: a query split over lines is checked like one line', async () => {
    await refused(PAY, `/logs?query=${q('x\n) OR (\nservice:checkout')}`, 400);
    await refused(PAY, `/logs?query=${q('error\nOR\nservice:checkout')}`, 403);
    expect((await call(PAY, `/logs?since=1h&query=${q('error\ntimeout')}`)).status).toBe(200);
  });

  it('invisible and non-ASCII space characters are a 400 for a scoped key', async () => {
    for (const odd of ['\u2028', '\u00A0', '\u200B', '\u202E', '\u3000']) {
      const body = await refused(PAY, `/logs?query=${q(`error${odd}OR service:checkout`)}`, 400);
      expect(body.errors[0].message).toMatch(/U\+/);
    }
  });

  it('a parenthesis glued to a word is a 400 for a scoped key', async () => {
    await refused(PAY, `/logs?query=${q('a(b ) OR service:checkout OR (c)')}`, 400);
    await refused(PAY, `/logs?query=${q('(a)b')}`, 400);
  });

  it('level is a closed list: anything else is a 400 before any query is built', async () => {
    await refused(PAY, `/logs?level=${q('error) OR (service:checkout')}`, 400);
  });

  it('services named outside the scope in the service list are a 403, repeated or comma-listed', async () => {
    const body = await refused(PAY, '/logs?service=payments-api,checkout', 403);
    expect(body.detail).toMatch(/"checkout"/);
    await refused(PAY, '/logs?service=payments-api&service=checkout', 403);
  });

  it('with no service named, the whole scope is searched and nothing else is returned', async () => {
    const answer = await call(PAY_PROD, '/logs?since=1h&limit=500');
    expect(answer.status).toBe(200);
    expect(answer.body.data.length).toBeGreaterThan(0);
    expect(services(answer.body.data)).toEqual(new Set(['payments-api', 'ledger']));
    for (const log of answer.body.data) expect(log.tags).toContain('env:prod');
    expect(answer.upstream[0]).toBe('service:("payments-api" OR "ledger") AND env:"prod"');
  });

  it('an env outside the scope is a 403, as a parameter, in the query, or in a group', async () => {
    await refused(PAY_PROD, '/traces?env=staging', 403);
    await refused(PAY_PROD, `/traces?query=${q('env:staging')}`, 403);
    await refused(PAY_PROD, `/logs?query=${q('env:(prod OR staging)')}`, 403);
    await refused(STAGING, '/traces?env=prod', 403);
  });

  it('an env-only key searches its env and nothing else', async () => {
    const answer = await call(STAGING, '/traces?since=1h&limit=200');
    expect(answer.status).toBe(200);
    expect(answer.body.data.length).toBeGreaterThan(0);
    for (const span of answer.body.data) expect(span.env).toBe('staging');
    expect(answer.upstream[0]).toBe('env:"staging"');
  });

  it('operation and resource values with quotes or backslashes are a 400 for a scoped key', async () => {
    await refused(PAY, `/traces?operation=${q('x" OR service:"checkout')}`, 400);
    await refused(PAY, `/traces?resource=${q('GET /x\\')}`, 400);
    const ok = await call(PAY, `/traces?since=1h&resource=${q('POST /charge')}&operation=web.request`);
    expect(ok.status).toBe(200);
    expect(services(ok.body.data)).toEqual(new Set(['payments-api']));
  });

  it('a cursor issued to another key does not open another scope', async () => {
    const first = await call(FULL, '/logs?since=1h&limit=5');
    expect(first.body.meta.next_cursor).toEqual(expect.any(String));
    const body = await refused(PAY, `/logs?since=1h&limit=5&cursor=${q(first.body.meta.next_cursor)}`, 400);
    expect(body.errors[0]).toMatchObject({ path: 'cursor', message: expect.stringMatching(/different query/) });
  });
});

describe('GET /traces/{trace_id} for a scoped key', () => {
  it('returns only the spans of in-scope services of a trace that crosses services', async () => {
    const traceId = stack.sim.truth.sampleTraceId(NOW - 60_000, { template: 'checkout' });
    const truth = stack.sim.truth.trace(traceId);
    const inScope = truth.filter((s) => s.attributes.service === 'payments-api');
    expect(inScope.length).toBeGreaterThan(0);
    expect(inScope.length).toBeLessThan(truth.length);
    const answer = await call(PAY, `/traces/${traceId}`);
    expect(answer.status).toBe(200);
    expect(answer.body.services).toEqual(['payments-api']);
    expect(answer.body.span_count).toBe(inScope.length);
    expect(answer.body.spans.map((s: { span_id: string }) => s.span_id).sort()).toEqual(inScope.map((s) => s.attributes.span_id).sort());
  });

  it('is a 404 for a trace with no span in scope', async () => {
    const traceId = stack.sim.truth.sampleTraceId(NOW - 60_000, { template: 'cart' });
    expect(stack.sim.truth.trace(traceId).some((s) => s.attributes.service === 'payments-api')).toBe(false);
    const answer = await call(PAY, `/traces/${traceId}`);
    expect(answer.status).toBe(404);
    expect(answer.upstream.length).toBeGreaterThan(0);
  });
});

describe('metrics: raw queries are accepted only when provably inside the scope', () => {
  const metric = (query: string) => `/metrics?since=1h&query=${q(query)}`;

  it.each([
    ['a match-all scope', 'avg:trace.web.request.hits{*}'],
    ['another service', 'avg:trace.web.request.hits{service:checkout}'],
    ['no scope at all', 'avg:trace.web.request.hits'],
    ['an in-scope and an out-of-scope service', 'avg:trace.web.request.hits{service:payments-api,service:checkout}'],
    ['a negated other service only', 'avg:trace.web.request.hits{!service:checkout}'],
    ['a wildcard service', 'avg:trace.web.request.hits{service:payments-*}'],
    ['the boolean filter syntax', 'avg:trace.web.request.hits{service:payments-api OR service:checkout}'],
    ['IN', 'avg:trace.web.request.hits{service IN (payments-api,checkout)}'],
    ['a second query outside the scope', 'avg:trace.web.request.hits{service:payments-api},avg:trace.web.request.hits{*}'],
    ['arithmetic with an unscoped metric', 'avg:trace.web.request.hits{service:payments-api} + avg:trace.web.request.hits{*}'],
    ['a wrapping function', 'top(avg:trace.web.request.hits{*} by {service}, 10, "mean", "desc")'],
    ['an upper-case key for another service', 'avg:trace.web.request.hits{SERVICE:checkout,service:payments-api}'],
    ['a look-alike service', 'avg:trace.web.request.hits{service:p\u0430yments-api}'],
    ['unbalanced braces', 'avg:trace.web.request.hits{service:payments-api'],
  ])('refuses %s: 403', async (_what, query) => {
    const body = await refused(PAY, metric(query), 403);
    expect(body.detail).toMatch(/cannot be proven/);
  });

  it('accepts a classic query whose scope names an in-scope service, and sends it as written', async () => {
    const query = 'sum:trace.web.request.errors{service:payments-api,env:prod} by {resource_name}.as_count()';
    const answer = await call(PAY, metric(query));
    expect(answer.status).toBe(200);
    expect(answer.upstream).toEqual([query]);
    expect(answer.body.series.length).toBeGreaterThan(0);
    for (const s of answer.body.series) expect(s.scope).toContain('service:payments-api');
  });

  it('requires the env of an env-scoped key in every scope', async () => {
    await refused(PAY_PROD, metric('avg:trace.web.request.hits{service:payments-api}'), 403);
    await refused(PAY_PROD, metric('avg:trace.web.request.hits{service:payments-api,env:staging}'), 403);
    expect((await call(PAY_PROD, metric('avg:trace.web.request.hits{service:ledger,env:prod}'))).status).toBe(200);
    expect((await call(STAGING, metric('avg:system.cpu.user{env:staging} by {host}'))).status).toBe(200);
  });

  it('builds a scoped query from metric and service, and refuses another service', async () => {
    const answer = await call(PAY_PROD, '/metrics?since=1h&metric=trace.web.request.hits&service=ledger');
    expect(answer.upstream).toEqual(['avg:trace.web.request.hits{service:ledger,env:prod}']);
    await refused(PAY_PROD, '/metrics?metric=trace.web.request.hits&service=checkout', 403);
    const single = await call(PAY, '/metrics?since=1h&metric=trace.web.request.hits');
    expect(single.upstream).toEqual(['avg:trace.web.request.hits{service:payments-api}']);
  });
});

describe('the Tinkr-compatible routes are held to the same scope', () => {
  const window = { start: '2026-11-25T03:00:00+00:00', end: '2026-11-25T04:00:00+00:00' };

  it('POST /api/v1/logs: another service, or a query naming one, is a 403', async () => {
    await refused(PAY, '/api/v1/logs', 403, { service: 'checkout', ...window });
    await refused(PAY, '/api/v1/logs', 403, { service: 'payments-api', query: '* OR service:checkout', ...window });
  });

  it('POST /api/v1/logs: a query leaving its parentheses is a 400 on body.query', async () => {
    const body = await refused(PAY, '/api/v1/logs', 400, { service: 'payments-api', query: 'x) OR (service:checkout', ...window });
    expect(body.errors[0].path).toBe('body.query');
  });

  it('POST /api/v1/logs: Tinkr level aliases still work inside the scope', async () => {
    const answer = await call(PAY, '/api/v1/logs', { service: 'payments-api', query: 'level:ERROR', ...window });
    expect(answer.status).toBe(200);
    expect(answer.body.entries.every((e: { service: string }) => e.service === 'payments-api')).toBe(true);
  });

  it('POST /api/v1/metrics: a full query in metric must be provably inside the scope', async () => {
    await refused(PAY, '/api/v1/metrics', 403, { service: 'payments-api', metric: 'avg:trace.web.request.hits{*}', ...window });
    await refused(PAY, '/api/v1/metrics', 403, { service: 'checkout', metric: 'avg:trace.web.request.hits{service:payments-api}', ...window });
    await refused(PAY, '/api/v1/metrics', 403, { service: 'checkout', metric: 'trace.web.request.hits', ...window });
    const ok = await call(PAY, '/api/v1/metrics', { service: 'payments-api', metric: 'avg:trace.web.request.hits{service:payments-api}', ...window });
    expect(ok.status).toBe(200);
    expect(ok.body.points.length).toBeGreaterThan(0);
  });

  it('POST /api/v1/traces: tags naming another service or env are a 403; quotes in tag values a 400', async () => {
    await refused(PAY, '/api/v1/traces', 403, { service: 'payments-api', tags: { service: 'checkout' } });
    await refused(PAY_PROD, '/api/v1/traces', 403, { service: 'payments-api', tags: { env: 'staging' } });
    const body = await refused(PAY, '/api/v1/traces', 400, { service: 'payments-api', tags: { team: 'x" OR service:"checkout' } });
    expect(body.errors[0].path).toBe('body.tags.team');
  });

  it('POST /api/v1/traces: the traces found show only in-scope spans', async () => {
    const answer = await call(PAY, '/api/v1/traces', { service: 'payments-api', since: '15m', limit: 5 });
    expect(answer.status).toBe(200);
    expect(answer.body.traces.length).toBeGreaterThan(0);
    for (const trace of answer.body.traces) {
      for (const span of trace.spans) expect(span.service).toBe('payments-api');
    }
  });
});

describe('roles', () => {
  it('a key with no reading role is a 403 on every query route, before any upstream call', async () => {
    for (const path of ['/logs', '/metrics?metric=a', '/traces', '/traces/123']) {
      const body = await refused(NO_ROLE, path, 403);
      expect(body.detail).toMatch(/roles \(none\) do not allow read/);
    }
    await refused(NO_ROLE, '/api/v1/logs', 403, { service: 'payments-api', ...window() });
  });

  it('oncall includes viewer: it reads, within its scope', async () => {
    const answer = await call(ONCALL, '/logs?since=15m&limit=5');
    expect(answer.status).toBe(200);
    expect(services(answer.body.data)).toEqual(new Set(['payments-api']));
  });

  it('public routes need no role', async () => {
    const res = await fetch(`${stack.app.url}/health`, { headers: { authorization: `Bearer ${NO_ROLE.token}` } });
    expect(res.status).toBe(200);
  });
});

function window() {
  return { start: '2026-11-25T03:00:00+00:00', end: '2026-11-25T04:00:00+00:00' };
}
