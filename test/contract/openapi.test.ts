import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
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

  it('serves the docs UI publicly', async () => {
    const res = await fetch(`${app.url}/docs`, { redirect: 'manual' });
    expect([200, 302]).toContain(res.status);
    const page = await fetch(`${app.url}/docs/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/swagger/i);
  });
});
