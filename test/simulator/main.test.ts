import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DEMO_KEYS, startSimulator, type Simulator } from '@tinkr/datadog-simulator';
import { simulatorBanner } from '@tinkr/datadog-simulator/banner';
import { sha256Hex } from '../../src/auth/keyring.ts';
import { runCli, scratchDirs } from '../helpers/cli.ts';
import { callDatadog } from '../helpers/datadog-fetch.ts';

const MAIN = fileURLToPath(new URL('../../packages/simulator/src/main.ts', import.meta.url));

function run(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [MAIN, ...args], { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The banner: the first `lines` lines the simulator prints. */
async function banner(child: ChildProcess, lines = 4): Promise<string[]> {
  let out = '';
  for await (const chunk of child.stdout!) {
    out += String(chunk);
    const printed = out.split('\n');
    if (printed.length > lines) return printed.slice(0, lines);
  }
  throw new Error(`simulator exited before printing its banner: ${out}`);
}

/** `NAME=value` words of a printed line, as a shell would assign them. */
function assignments(line: string): Record<string, string> {
  return Object.fromEntries(line.trim().split(/\s+/).map((word) => [word.slice(0, word.indexOf('=')), word.slice(word.indexOf('=') + 1)]));
}

describe('npm run simulator (packages/simulator/src/main.ts)', () => {
  let child: ChildProcess;
  let url: string;
  let printed: string[];
  let local: Simulator;

  beforeAll(async () => {
    child = run(['--port', '0', '--host', '127.0.0.1'], { SIM_RATE_LIMITS: '{"logs":{"limit":7,"periodS":60}}' });
    printed = await banner(child);
    url = /listening on (http:\/\/\S+)$/.exec(printed[0]!)![1]!;
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

  it('prints the keys it accepts and the variables that point a server at it', () => {
    expect(printed).toEqual(simulatorBanner(url, DEFAULT_DEMO_KEYS).split('\n').slice(0, 4));
    expect(printed[1]).toBe(`Keys it accepts: DD_API_KEY=${DEFAULT_DEMO_KEYS.apiKey} DD_APP_KEY=${DEFAULT_DEMO_KEYS.appKey} (the public demo keys; SIM_API_KEY and SIM_APP_KEY choose others)`);
    expect(assignments(printed[3]!)).toEqual({ DD_API_URL: url, DD_API_KEY: DEFAULT_DEMO_KEYS.apiKey, DD_APP_KEY: DEFAULT_DEMO_KEYS.appKey, TINKR_BACKEND: 'datadog' });
  });

  it('a tinkr-server given exactly the printed variables (and a caller) passes --check against it', async () => {
    const scratch = scratchDirs('tinkr-sim-point-');
    try {
      const callers = JSON.stringify([{ hash: sha256Hex('my-token'), subject: 'me', roles: ['viewer'] }]);
      const result = await runCli(['--check'], { scratch, env: { ...assignments(printed[3]!), TINKR_API_KEYS: callers } });
      expect(result.stdout).toContain(`Datadog keys  ok: accepted by datadoghq.com via ${url}`);
      expect(result.code).toBe(0);
    } finally {
      scratch.cleanup();
    }
  });

  it("is shown in the README as it prints (for port 8126 and the demo keys)", () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(`\`\`\`\n${simulatorBanner('http://127.0.0.1:8126', DEFAULT_DEMO_KEYS)}\`\`\``);
    const exported = /^export (DD_API_URL=.*TINKR_BACKEND=datadog)$/m.exec(readme)?.[1];
    expect(exported).toBe(simulatorBanner('http://127.0.0.1:8126', DEFAULT_DEMO_KEYS).split('\n')[3]!.trim());
  });

  it('prints the keys given with SIM_API_KEY and SIM_APP_KEY', async () => {
    const own = run(['--port', '0'], { SIM_API_KEY: 'sim-own-api-key', SIM_APP_KEY: 'sim-own-app-key' });
    try {
      const lines = await banner(own);
      expect(lines[1]).toBe('Keys it accepts: DD_API_KEY=sim-own-api-key DD_APP_KEY=sim-own-app-key (from SIM_API_KEY and SIM_APP_KEY)');
      const ownUrl = assignments(lines[3]!).DD_API_URL!;
      const res = await callDatadog(ownUrl, '/api/v2/logs/events/search', { body: {}, keys: { apiKey: 'sim-own-api-key', appKey: 'sim-own-app-key' } });
      expect(res.status).toBe(200);
    } finally {
      own.kill('SIGTERM');
      await once(own, 'exit');
    }
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
