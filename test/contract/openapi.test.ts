import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { FAVICON_SVG, LOGO_SVG } from '../../src/http/api-docs.ts';
import { startApp, type TestApp } from '../helpers/app.ts';

let app: TestApp;
beforeAll(async () => {
  app = await startApp();
});
afterAll(() => app.close());

describe('the public OpenAPI document', () => {
  it('is served at /openapi.json exactly as checked in at openapi/openapi.yaml (run `npm run openapi` after changing a schema)', async () => {
    const served: any = await (await fetch(`${app.url}/openapi.json`)).json();
    const checkedIn = parse(readFileSync(new URL('../../openapi/openapi.yaml', import.meta.url), 'utf8'));
    // The served version is the test build's; everything else must match to the letter.
    expect({ ...served, info: { ...served.info, version: checkedIn.info.version } }).toEqual(checkedIn);
  });

  it('documents every public route and its parameters', async () => {
    const doc: any = await (await fetch(`${app.url}/openapi.json`)).json();
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/api/v1/anomalies',
        '/api/v1/logs',
        '/api/v1/metrics',
        '/api/v1/slo',
        '/api/v1/traces',
        '/health',
        '/healthz',
        '/logs',
        '/logs/aggregate',
        '/logs/tail',
        '/metrics',
        '/readyz',
        '/traces',
        '/traces/aggregate',
        '/traces/{trace_id}',
      ].sort(),
    );
    const aggregateParams = doc.paths['/logs/aggregate'].get.parameters.map((p: { name: string }) => p.name).sort();
    expect(aggregateParams).toEqual(['compute', 'from', 'group_by', 'indexes', 'interval', 'level', 'limit', 'query', 'service', 'since', 'storage_tier', 'to'].sort());
    const logsParams = doc.paths['/logs'].get.parameters.map((p: { name: string }) => p.name).sort();
    expect(logsParams).toEqual(['cursor', 'from', 'indexes', 'level', 'limit', 'query', 'service', 'since', 'sort', 'storage_tier', 'to'].sort());
    expect(doc.paths['/logs'].get.responses['429']).toBeDefined();
    const tail = doc.paths['/logs/tail'].get;
    expect(tail.parameters.map((p: { name: string }) => p.name).sort()).toEqual(['level', 'limit', 'query', 'service']);
    expect(Object.keys(tail.responses['200'].content)).toEqual(['text/event-stream']);
    expect(tail.responses['503']).toBeDefined();
  });

  it('describes every response by what it means, never "Default Response"', async () => {
    const doc: any = await (await fetch(`${app.url}/openapi.json`)).json();
    const descriptions: Array<[string, string]> = [];
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(item)) {
        for (const [status, response] of Object.entries<any>(op.responses)) descriptions.push([`${method} ${path} ${status}`, response.description]);
      }
    }
    expect(descriptions.length).toBeGreaterThan(50);
    for (const [where, description] of descriptions) {
      expect(description, where).not.toMatch(/^(Default Response|application\/problem\+json)$/);
      expect(description.length, where).toBeGreaterThan(15);
    }
    // Error answers name the codes they carry.
    expect(doc.paths['/logs'].get.responses['429'].description).toMatch(/RATE_LIMITED.*UPSTREAM_RATE_LIMITED/);
  });

  it("leaks no zod integer bounds (±2^53-1) into the document, where Swagger UI shows them as examples", async () => {
    const text = await (await fetch(`${app.url}/openapi.json`)).text();
    expect(text).not.toContain('9007199254740991');
    expect(readFileSync(new URL('../../openapi/openapi.yaml', import.meta.url), 'utf8')).not.toContain('9007199254740991');
  });

  it("serves the docs UI publicly, with this project's title and logo, loading /openapi.json", async () => {
    const res = await fetch(`${app.url}/docs`, { redirect: 'manual' });
    expect([200, 302]).toContain(res.status);
    const page = await fetch(`${app.url}/docs/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toMatch(/<title>tinkr-server API<\/title>/);
    expect(html).not.toMatch(/<title>Swagger UI/);
    expect(html).toContain('./static/theme/favicon.svg');
    const favicon = await fetch(`${app.url}/docs/static/theme/favicon.svg`);
    expect(favicon.headers.get('content-type')).toMatch(/svg/);
    expect(await favicon.text()).toBe(FAVICON_SVG);

    const initializer = await (await fetch(`${app.url}/docs/static/swagger-initializer.js`)).text();
    // Swagger UI loads `urls` instead of its own `./json` when given.
    expect(initializer).toContain('"urls":[{"url":"/openapi.json","name":"tinkr-server"}]');
    expect(initializer).toContain(`data:image/svg+xml;base64,${Buffer.from(LOGO_SVG).toString('base64')}`);
    expect(LOGO_SVG).toContain('tinkr-server');
  });
});
