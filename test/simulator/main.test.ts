import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/simulator/index.ts';
import { callDatadog } from '../helpers/datadog-fetch.ts';

const MAIN = fileURLToPath(new URL('../../src/simulator/main.ts', import.meta.url));

function run(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [MAIN, ...args], { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

async function firstLine(child: ChildProcess): Promise<string> {
  let out = '';
  for await (const chunk of child.stdout!) {
    out += String(chunk);
    if (out.includes('\n')) return out.split('\n')[0]!;
  }
  throw new Error(`simulator exited before printing its URL: ${out}`);
}

describe('npm run simulator (src/simulator/main.ts)', () => {
  let child: ChildProcess;
  let url: string;
  let local: Simulator;

  beforeAll(async () => {
    child = run(['--port', '0', '--host', '127.0.0.1'], { SIM_RATE_LIMITS: '{"logs":{"limit":7,"periodS":60}}' });
    const line = await firstLine(child);
    url = /listening on (http:\/\/\S+)$/.exec(line)![1]!;
    local = await startSimulator();
  });
  afterAll(async () => {
    await local.close();
    if (child.exitCode === null) child.kill('SIGTERM');
  });

  it('prints its URL and serves the control endpoints', async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await (await fetch(`${url}/_sim/health`)).json()).toEqual({ status: 'ok' });
  });

  it('reads rate limits from SIM_RATE_LIMITS', async () => {
    const res = await callDatadog(url, '/api/v2/logs/events/search', { body: {} });
    expect(res.headers.get('x-ratelimit-limit')).toBe('7');
  });

  it('serves the same data as a simulator in another process (a pure function of time)', async () => {
    const to = Math.floor(Date.now() / 60_000) * 60_000 - 3_600_000;
    const filter = { from: String(to - 600_000), to: String(to) };
    const a = await callDatadog(url, '/api/v2/logs/events/search', { body: { filter, page: { limit: 1000 } } });
    const b = await callDatadog(local.url, '/api/v2/logs/events/search', { body: { filter, page: { limit: 1000 } } });
    expect(a.body.data.length).toBeGreaterThan(500);
    expect(a.body.data).toEqual(b.body.data);
    const spans = { data: { type: 'search_request', attributes: { filter, page: { limit: 1000 } } } };
    const sa = await callDatadog(url, '/api/v2/spans/events/search', { body: spans });
    const sb = await callDatadog(local.url, '/api/v2/spans/events/search', { body: spans });
    expect(sa.body.data.length).toBeGreaterThan(200);
    expect(sa.body.data).toEqual(sb.body.data);
    const q = `/api/v1/query?from=${to / 1000 - 3_600}&to=${to / 1000}&query=${encodeURIComponent('avg:system.cpu.user{*} by {host}')}`;
    expect((await callDatadog(url, q)).body).toEqual((await callDatadog(local.url, q)).body);
  });

  it('exits 0 on SIGTERM', async () => {
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  });

  it('exits 64 with usage on a bad flag', async () => {
    const bad = run(['--port', 'nope']);
    let err = '';
    bad.stderr!.on('data', (chunk) => (err += String(chunk)));
    const [code] = await once(bad, 'exit');
    expect(code).toBe(64);
    expect(err).toMatch(/--port must be a port number[\s\S]*usage:/);
  });
});
