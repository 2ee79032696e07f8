import { afterEach, describe, expect, it } from 'vitest';
import type { ApiKeys, Fault } from '@tinkr/datadog-simulator';
import { KEY_RECHECK_MIN_MS } from '../../src/boot/key-check.ts';
import { startServer, type Running } from '../../src/boot.ts';
import { parseCommandLine } from '../../src/config/args.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/logging.ts';
import { envOnlyStart, parseLogLines, type LogLine } from '../helpers/cli.ts';
import { freePort } from '../helpers/free-port.ts';
import { ManualClock } from '../helpers/manual-clock.ts';
import { scrape, valueOf } from '../helpers/prometheus.ts';
import { untilNotReady, untilReady } from '../helpers/ready.ts';
import { startTestSimulator, type TestSimulator } from '../helpers/simulator.ts';
import { closedPort } from '../secrets/fakes/server.ts';

/**
 * Keys checked at boot (docs/operations.md#keys-checked-at-boot), through the real server booted from the environment as
 * main.ts boots it, in front of the simulator (which validates every request against Datadog's
 * spec). The server and the simulator share an injected clock, so back-off re-checks come when
 * the test moves it. Rotation through a secret manager: test/boot/rotation.test.ts.
 */

const KEYS: ApiKeys = { apiKey: 'boot-check-api-key-5e1f0a', appKey: 'boot-check-app-key-7c2d9b' };
const OTHER: ApiKeys = { apiKey: 'boot-check-other-api-9a8b', appKey: 'boot-check-other-app-3c4d' };
const TOKEN = 'boot-check-bearer-token';
const ALL_KEYS = [KEYS.apiKey, KEYS.appKey, OTHER.apiKey, OTHER.appKey, TOKEN];

interface Started {
  running: Running;
  sim: TestSimulator | undefined;
  clock: ManualClock;
  logs(): LogLine[];
  output(): string;
}

const started: Started[] = [];
afterEach(async () => {
  for (const s of started.splice(0)) {
    await s.running.close();
    s.sim?.assertNoViolations();
    await s.sim?.close();
  }
});

/**
 * The server with KEYS in the environment (site datadoghq.eu), in front of a simulator that
 * accepts `simKeys` with `faults` armed before the boot (or in front of `apiUrl`).
 */
async function start(opts: { simKeys?: ApiKeys; faults?: Fault[]; apiUrl?: string; metricsPort?: number } = {}): Promise<Started> {
  const clock = new ManualClock(Date.now());
  const sim = opts.apiUrl ? undefined : await startTestSimulator({ keys: opts.simKeys ?? KEYS, clock });
  for (const fault of opts.faults ?? []) sim!.faults.add(fault);
  const env = {
    ...envOnlyStart(opts.apiUrl ?? sim!.url, { token: TOKEN, subject: 'boot-check' }),
    DD_API_KEY: KEYS.apiKey,
    DD_APP_KEY: KEYS.appKey,
    DD_SITE: 'datadoghq.eu',
    TINKR_METRICS_PORT: String(opts.metricsPort ?? 0),
  };
  const config = loadConfig({ args: parseCommandLine([]), env, homeDir: '/nonexistent', cwd: '/' });
  let output = '';
  const logger = createLogger('debug', { write: (line: string) => void (output += line) });
  const running = await startServer(config, { logger, clock });
  const s: Started = { running, sim, clock, logs: () => parseLogLines(output), output: () => output };
  started.push(s);
  return s;
}

function expectNoKeys(...texts: string[]): void {
  for (const text of texts) for (const key of ALL_KEYS) expect(text).not.toContain(key);
}

describe('keys checked at boot', () => {
  it('good keys: ready, with the check in /readyz; Datadog saw one validate and one query', async () => {
    const s = await start();
    const ready = await untilReady(s.running.url);
    expect(ready).toMatchObject({ status: 'ready', keys: { status: 'ok', site: 'datadoghq.eu', checked_at: new Date(s.clock.now()).toISOString() } });
    expect(s.sim!.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /api/v1/validate', 'GET /api/v1/query']);
    expect(s.logs()).toContainEqual(expect.objectContaining({ level: 'info', msg: `Datadog (datadoghq.eu via ${s.sim!.url}) accepted the keys` }));
    expectNoKeys(s.output(), JSON.stringify(ready));
  });

  it.each<[string, ApiKeys, 'api' | 'application', string]>([
    ['the API key', { ...OTHER, appKey: KEYS.appKey }, 'api', 'DD_API_KEY'],
    ['only the application key', { ...KEYS, appKey: OTHER.appKey }, 'application', 'DD_APP_KEY'],
  ])('Datadog refusing %s: /readyz 503 naming the site and the key, one error line, serving goes on; fixed keys make it ready', async (_what, simKeys, key, variable) => {
    const s = await start({ simKeys });
    const which = key === 'api' ? 'API' : 'application';
    const problem = await untilNotReady(s.running.url, /rejected/);
    expect(problem).toMatchObject({
      status: 503,
      code: 'NOT_READY',
      detail: `the Datadog keys were rejected by datadoghq.eu: the ${which} key (HTTP 403); they are re-checked with back-off and after a rotation`,
    });
    const errors = s.logs().filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ site: 'datadoghq.eu', api_url: s.sim!.url, key, status: 403 });
    expect(errors[0]!.msg).toContain(`Datadog (datadoghq.eu via ${s.sim!.url}) rejected the ${which} key (HTTP 403)`);
    expect(errors[0]!.msg).toContain(`check ${variable}`);
    // The process keeps running: liveness and the public routes answer.
    expect((await fetch(`${s.running.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${s.running.url}/health`)).status).toBe(200);

    // Datadog takes the keys the server holds (fixed at Datadog's end): the next re-check finds them.
    s.sim!.setKeys(KEYS);
    const ready = await untilReady(s.running.url, { onPoll: () => s.clock.advance(KEY_RECHECK_MIN_MS) });
    expect(ready.keys).toMatchObject({ status: 'ok', site: 'datadoghq.eu' });
    expect((await fetch(`${s.running.url}/logs?since=15m&limit=2`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expectNoKeys(s.output(), JSON.stringify(problem), JSON.stringify(ready));
  });

  it('Datadog unreachable: not ready, retried with back-off, ready once it answers; Prometheus shows the state', async () => {
    // Datadog answers 503 to the first two checks: no verdict on the keys.
    const s = await start({ metricsPort: await freePort(), faults: [{ kind: 'status', status: 503, endpoint: 'validate', times: 2 }] });
    const problem = await untilNotReady(s.running.url, /could not check/);
    expect(problem.detail).toBe('could not check the Datadog keys with datadoghq.eu (/api/v1/validate answered HTTP 503); retrying with back-off');
    expect(valueOf(await scrape(s.running.metricsUrl!), 'tinkr_datadog_keys_status', { status: 'unreachable' })).toBe(1);
    expect(s.logs()).toContainEqual(expect.objectContaining({ level: 'warn', reason: '/api/v1/validate answered HTTP 503', site: 'datadoghq.eu' }));
    await untilReady(s.running.url, { onPoll: () => s.clock.advance(KEY_RECHECK_MIN_MS) });
    expect(s.sim!.callCount('validate')).toBe(3);
    const samples = await scrape(s.running.metricsUrl!);
    expect(valueOf(samples, 'tinkr_datadog_keys_status', { status: 'ok' })).toBe(1);
    expect(valueOf(samples, 'tinkr_datadog_keys_status', { status: 'unreachable' })).toBe(0);
  });

  it('nothing listening at the Datadog address: not ready, the process keeps running, no key in the output', async () => {
    const s = await start({ apiUrl: `http://127.0.0.1:${await closedPort()}` });
    const problem = await untilNotReady(s.running.url, /could not check/);
    expect(problem.detail).toBe('could not check the Datadog keys with datadoghq.eu (could not reach /api/v1/validate (ECONNREFUSED)); retrying with back-off');
    expect((await fetch(`${s.running.url}/healthz`)).status).toBe(200);
    const warnings = s.logs().filter((l) => l.level === 'warn' && String(l.msg).startsWith('could not check the Datadog keys'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ retry_in_s: KEY_RECHECK_MIN_MS / 1000 });
    expectNoKeys(s.output(), JSON.stringify(problem));
  });
});
