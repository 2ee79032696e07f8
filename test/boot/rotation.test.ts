import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type ApiKeys } from '@tinkr/datadog-simulator';
import { startServer, type Running } from '../../src/boot.ts';
import type { Clock } from '../../src/clock.ts';
import { parseCommandLine } from '../../src/config/args.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/logging.ts';
import { awsSecretLines, secretsProfileToml } from '../helpers/profile-file.ts';
import { parseLogLines, type LogLine } from '../helpers/cli.ts';
import { ManualClock } from '../helpers/manual-clock.ts';
import { untilNotReady, untilReady } from '../helpers/ready.ts';
import { KEY_RECHECK_MIN_MS } from '../../src/boot/key-check.ts';
import { DEFAULT_MIN_REFRESH_INTERVAL_MS } from '../../src/secrets/store.ts';
import { startTestSimulator, type TestSimulator } from '../helpers/simulator.ts';
import { type AwsSecretsManagerFake, startAwsSecretsManager } from '../secrets/fakes/aws.ts';
import { openCloudSandbox, type CloudSandbox } from '../secrets/helpers/sandbox.ts';

/**
 * Key rotation end to end (docs/secrets.md#rotation): the real server, booted from a profile whose keys live
 * in AWS Secrets Manager (the loopback fake, through the real SDK), in front of the simulator.
 * The secret changes at the fake and the simulator starts refusing the old key; the server
 * re-reads the secret once and carries on with the new keys.
 */

const TOKEN = 'rotation-test-bearer-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const OLD: ApiKeys = { apiKey: 'rotation-old-api-key-11aa', appKey: 'rotation-old-app-key-22bb' };
const NEW: ApiKeys = { apiKey: 'rotation-new-api-key-33cc', appKey: 'rotation-new-app-key-44dd' };
const ALL_KEYS = [OLD.apiKey, OLD.appKey, NEW.apiKey, NEW.appKey];
const secretOf = (keys: ApiKeys) => JSON.stringify({ DD_API_KEY: keys.apiKey, DD_APP_KEY: keys.appKey });

let sandbox: CloudSandbox;
let home: string;
let fake: AwsSecretsManagerFake;

beforeAll(async () => {
  sandbox = openCloudSandbox('tinkr-rotation-');
  home = sandbox.home;
  sandbox.isolateEnv({ AWS_ACCESS_KEY_ID: 'AKIDROTATIONTEST', AWS_SECRET_ACCESS_KEY: 'rotation-test-secret-access-key' });
  fake = await startAwsSecretsManager({ region: 'eu-west-1' });
});

afterAll(async () => {
  await fake.close();
  sandbox.close();
});

interface Started {
  running: Running;
  sim: TestSimulator;
  logs: () => LogLine[];
  get(path: string): Promise<Response>;
  readyz(): Promise<{ status: string; secrets: Record<string, unknown>; keys: Record<string, unknown> }>;
}

const started: Started[] = [];
afterEach(async () => {
  for (const s of started.splice(0)) {
    await s.running.close();
    s.sim.assertNoViolations();
    await s.sim.close();
  }
});

/**
 * The simulator, then the server booted through loadConfig from a TOML profile, as main.ts does;
 * resolves once the server is ready (Datadog accepted its keys), unless `ready: false`.
 */
async function start(secretId: string, opts: { clock?: Clock; secretsExtra?: string; simKeys?: ApiKeys; ready?: boolean } = {}): Promise<Started> {
  const sim = await startTestSimulator({ keys: opts.simKeys ?? OLD, ...(opts.clock ? { clock: opts.clock } : {}) });
  const file = join(home, `${secretId.replaceAll('/', '-')}.toml`);
  writeFileSync(
    file,
    secretsProfileToml({
      apiUrl: sim.url,
      caller: { token: TOKEN, subject: 'rotation' },
      // Room for all twenty refused calls at once (the default lets 16 run and queues the rest).
      extra: '[upstream]\nmax_concurrent = 32',
      secrets: [...awsSecretLines(secretId, fake.url, 10_000), ...(opts.secretsExtra ? [opts.secretsExtra] : [])],
    }),
  );
  const config = loadConfig({ args: parseCommandLine(['--config', file, '--host', '127.0.0.1', '--port', '0']), env: { TINKR_METRICS_PORT: '0' }, homeDir: home, cwd: home });
  let output = '';
  const logger = createLogger('debug', { write: (line: string) => void (output += line) });
  const running = await startServer(config, { logger, ...(opts.clock ? { clock: opts.clock } : {}) });
  const s: Started = {
    running,
    sim,
    logs: () => parseLogLines(output),
    get: (path) => fetch(`${running.url}${path}`, { headers: AUTH }),
    readyz: async () => (await fetch(`${running.url}/readyz`)).json() as Promise<{ status: string; secrets: Record<string, unknown>; keys: Record<string, unknown> }>,
  };
  started.push(s);
  if (opts.ready !== false) await untilReady(running.url);
  return s;
}

const callsFor = (id: string) => fake.calls().filter((c) => c.secretId === id);
const logsCalls = (sim: TestSimulator, keys: ApiKeys) =>
  sim.requests.filter((r) => r.endpoint === 'logs' && r.headers['dd-api-key'] === keys.apiKey && r.headers['dd-application-key'] === keys.appKey);

function expectNoKeys(text: string): void {
  for (const key of ALL_KEYS) expect(text).not.toContain(key);
}

describe('rotation on a Datadog 401/403', () => {
  it('20 concurrent requests all succeed with the new keys after exactly one re-fetch', async () => {
    const id = 'prod/rotation/auth-failure';
    fake.put(id, secretOf(OLD));
    const s = await start(id);
    expect(callsFor(id)).toHaveLength(1);
    expect((await s.get('/logs?since=15m&limit=50')).status).toBe(200);

    // Rotation: a new version at the secret manager, and Datadog refusing the old key.
    fake.put(id, secretOf(NEW));
    s.sim.setKeys(NEW);
    s.sim.resetRequests();

    // The re-read is held at the secret manager until all twenty requests were refused, so
    // every one of them needs the new keys while a fetch is in flight.
    const release = fake.hold();
    // Twenty different queries, so no layer in front of Datadog may answer one for another.
    const pending = Promise.all(Array.from({ length: 20 }, (_, i) => s.get(`/logs?since=15m&limit=${i + 1}`)));
    try {
      await vi.waitFor(() => expect(logsCalls(s.sim, OLD)).toHaveLength(20));
      expect(callsFor(id)).toHaveLength(2);
    } finally {
      release();
    }
    const responses = await pending;
    const bodies = await Promise.all(responses.map((r) => r.json() as Promise<{ data: unknown[] }>));
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(bodies.map((b) => b.data.length)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));

    // Boot read plus exactly one re-read, whatever the concurrency.
    expect(callsFor(id)).toHaveLength(2);
    expect(logsCalls(s.sim, OLD)).toHaveLength(20);
    expect(logsCalls(s.sim, NEW)).toHaveLength(20);

    const ready = await s.readyz();
    expect(ready).toMatchObject({ status: 'ready', secrets: { refreshes: 1 } });
    expect(ready.secrets.source).toBe(`AWS Secrets Manager secret ${id} (region eu-west-1 via ${fake.url})`);
    expect(ready.secrets.last_error).toBeUndefined();
    expect(s.logs()).toContainEqual(expect.objectContaining({ level: 'info', reason: 'auth_failure', msg: 'Datadog keys re-read from the secret manager: new keys in use' }));
    expectNoKeys(JSON.stringify(s.logs()) + JSON.stringify(ready));
  });

  it('a key that is simply wrong: every request gets UPSTREAM_AUTH, and the secret manager is read once', async () => {
    const id = 'prod/rotation/wrong-key';
    fake.put(id, secretOf(OLD));
    const s = await start(id);
    // Datadog refuses the keys, and the secret still holds them.
    s.sim.setKeys(NEW);

    for (let round = 0; round < 2; round++) {
      const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => s.get(`/logs?since=15m&limit=${i + 1}`)));
      const bodies = await Promise.all(responses.map((r) => r.json() as Promise<{ code: string }>));
      expect(responses.map((r) => r.status)).toEqual(Array(20).fill(502));
      expect(new Set(bodies.map((b) => b.code))).toEqual(new Set(['UPSTREAM_AUTH']));
    }
    // One re-read for forty refusals: re-reads are single-flight and rate-limited.
    expect(callsFor(id)).toHaveLength(2);
    expect((await s.readyz()).secrets).toMatchObject({ refreshes: 1 });
  });
});

describe('periodic refresh (refresh_interval), on the injected clock', () => {
  it('re-reads every interval and re-checks the keys with Datadog; a failed re-read keeps the keys, is logged safely and shows in /readyz', async () => {
    const id = 'prod/rotation/periodic';
    fake.put(id, secretOf(OLD));
    const clock = new ManualClock(Date.now());
    const s = await start(id, { clock, secretsExtra: 'refresh_interval = "1h"' });
    const loadedAt = clock.now();
    expect(callsFor(id)).toHaveLength(1);

    // The secret rotates, and Datadog takes the new key; an hour after boot the server picks it
    // up on its own and has Datadog check it. (That it waits exactly the interval is shown in
    // test/secrets/store.test.ts.)
    fake.put(id, secretOf(NEW));
    s.sim.setKeys(NEW);
    const checksBefore = s.sim.callCount('validate');
    clock.advance(3_600_000);
    await vi.waitFor(async () => expect((await s.readyz()).keys).toMatchObject({ status: 'ok', checked_at: new Date(loadedAt + 3_600_000).toISOString() }));
    expect(s.sim.callCount('validate')).toBe(checksBefore + 1);
    expect(callsFor(id)).toHaveLength(2);
    expect((await s.readyz()).secrets).toEqual({
      source: `AWS Secrets Manager secret ${id} (region eu-west-1 via ${fake.url})`,
      loaded_at: new Date(loadedAt + 3_600_000).toISOString(),
      age_s: 0,
      refreshes: 1,
      last_refresh_at: new Date(loadedAt + 3_600_000).toISOString(),
    });

    // Datadog wants the new keys, which the server already has: no refusal, no re-read.
    s.sim.resetRequests();
    expect((await s.get('/logs?since=15m&limit=3')).status).toBe(200);
    expect(logsCalls(s.sim, NEW)).toHaveLength(1);
    expect(s.sim.requests).toHaveLength(1);

    // The next re-read fails: the keys in use stay (unchecked again: they did not change), and
    // /readyz says why and how old they are.
    fake.fail(id, 'denied');
    clock.advance(3_600_000);
    await vi.waitFor(async () => expect((await s.readyz()).secrets).toMatchObject({ refreshes: 2 }));
    const ready = await s.readyz();
    expect(ready.status).toBe('ready');
    expect(ready.secrets).toMatchObject({ age_s: 3600, loaded_at: new Date(loadedAt + 3_600_000).toISOString(), refreshes: 2 });
    expect(ready.secrets.last_error).toContain(`AWS Secrets Manager secret ${id} (region eu-west-1 via ${fake.url}): access denied`);
    expect((await s.get('/logs?since=15m&limit=3')).status).toBe(200);
    expect(logsCalls(s.sim, NEW)).toHaveLength(2);
    expect(s.sim.callCount('validate')).toBe(0);

    expect(s.logs()).toContainEqual(
      expect.objectContaining({ level: 'warn', reason: 'periodic', kind: 'access_denied', msg: 're-reading the Datadog keys failed; keeping the current keys' }),
    );
    expectNoKeys(JSON.stringify(s.logs()) + JSON.stringify(ready));

    // The secret manager recovers: the next interval clears the error.
    fake.fail(id, undefined);
    clock.advance(3_600_000);
    await vi.waitFor(async () => expect((await s.readyz()).secrets).toMatchObject({ refreshes: 3 }));
    expect((await s.readyz()).secrets.last_error).toBeUndefined();
    expect((await s.readyz()).secrets.age_s).toBe(0);
    // An unchanged periodic re-read has the keys checked again: a key revoked at Datadog shows.
    await vi.waitFor(async () => expect((await s.readyz()).keys).toMatchObject({ checked_at: new Date(loadedAt + 3 * 3_600_000).toISOString() }));
    expect(s.sim.callCount('validate')).toBe(1);
  });
});

describe('keys Datadog rejects at boot, on the injected clock', () => {
  it('keep /readyz 503 until a rotation in the secret manager brings keys that work; the process keeps serving meanwhile', async () => {
    const id = 'prod/rotation/rejected-at-boot';
    fake.put(id, secretOf(OLD));
    const clock = new ManualClock(Date.now());
    // Datadog already wants the new keys; the secret still holds the old ones.
    const s = await start(id, { clock, simKeys: NEW, ready: false });
    const refused = await untilNotReady(s.running.url, /rejected by datadoghq\.com: the API key \(HTTP 403\)/);
    expect(refused).toMatchObject({ status: 503, code: 'NOT_READY' });
    // At the first refusal the secret was read again at once; it still held the old keys.
    expect(callsFor(id)).toHaveLength(2);
    expect((await fetch(`${s.running.url}/healthz`)).status).toBe(200);
    const errors = s.logs().filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ site: 'datadoghq.com', api_url: s.sim.url, key: 'api', status: 403 });
    expect(errors[0]!.msg).toContain(`Datadog (datadoghq.com via ${s.sim.url}) rejected the API key (HTTP 403)`);

    // The rotation. Re-checks back off, and each first asks the secret manager for new keys (at
    // most once a minute, DEFAULT_MIN_REFRESH_INTERVAL_MS): within a few back-offs they are in.
    fake.put(id, secretOf(NEW));
    const bootAt = clock.now();
    const ready = await untilReady(s.running.url, { onPoll: () => clock.advance(KEY_RECHECK_MIN_MS) });
    expect(clock.now() - bootAt).toBeGreaterThanOrEqual(DEFAULT_MIN_REFRESH_INTERVAL_MS);
    expect(ready.keys).toMatchObject({ status: 'ok', site: 'datadoghq.com' });
    expect(callsFor(id)).toHaveLength(3);
    expect(s.logs().filter((l) => l.level === 'error')).toHaveLength(1);
    expect(s.logs()).toContainEqual(expect.objectContaining({ level: 'info', msg: `Datadog (datadoghq.com via ${s.sim.url}) accepted the keys` }));
    expect((await s.get('/logs?since=15m&limit=2')).status).toBe(200);
    expectNoKeys(JSON.stringify(s.logs()) + JSON.stringify(refused) + JSON.stringify(ready));
  });
});
