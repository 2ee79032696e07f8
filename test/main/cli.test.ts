import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sha256Hex } from '../../src/auth/keyring.ts';
import { DATADOG_SITES } from '../../src/datadog/sites.ts';
import { type CliResult, envOnlyStart, runCli, type Scratch, scratchDirs, startCli, VIOLATIONS_MARKER } from '../helpers/cli.ts';
import { freePort } from '../helpers/free-port.ts';
import { untilReady } from '../helpers/ready.ts';
import { startTestSimulator, type TestSimulator } from '../helpers/simulator.ts';

/**
 * `tinkr-server` started the ways docs/configuration.md documents, as a real child process with a clean
 * environment: env-only as the Datadog docs say, from a TOML profile, and every way of
 * failing before listening, with its exit code and a message that names the file and key
 * and never a planted secret.
 */

const TOKEN = 'cli-test-bearer-token-1f0e';
const TINKR_API_KEYS = JSON.stringify([{ hash: sha256Hex(TOKEN), subject: 'cli', roles: ['viewer'] }]);
const AUTH = { authorization: `Bearer ${TOKEN}` };
// The two simulators accept only their own key pair, so an answer proves which keys were sent.
const PROD_KEYS = { apiKey: 'cli-prod-api-key-0a1b2c', appKey: 'cli-prod-app-key-3d4e5f' };
const STAGING_KEYS = { apiKey: 'cli-staging-api-key-6a7b', appKey: 'cli-staging-app-key-8c9d' };
/** Planted in every failing start: no output may contain it. */
const PLANT = 'c4n4ry-cli-7d1f0b9e5a';
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

let prodSim: TestSimulator;
let stagingSim: TestSimulator;
const scratches: Scratch[] = [];
const scratch = (): Scratch => {
  const s = scratchDirs();
  scratches.push(s);
  return s;
};

beforeAll(async () => {
  prodSim = await startTestSimulator({ keys: PROD_KEYS });
  stagingSim = await startTestSimulator({ keys: STAGING_KEYS });
});

afterAll(async () => {
  prodSim.assertNoViolations();
  stagingSim.assertNoViolations();
  await prodSim.close();
  await stagingSim.close();
  for (const s of scratches) s.cleanup();
});

/** A clean stop: exit 0 on SIGTERM, and nothing tried to leave loopback. */
function expectCleanStop(result: CliResult): void {
  expect(result.code).toBe(0);
  expect(result.stderr).not.toContain(VIOLATIONS_MARKER);
}

/** The keys the last request to `sim` carried, as Datadog would see them. */
function lastKeys(sim: TestSimulator): { apiKey: string | undefined; appKey: string | undefined } {
  const last = sim.requests.at(-1);
  return { apiKey: last?.headers['dd-api-key'], appKey: last?.headers['dd-application-key'] };
}

describe('env-only start, exactly as the Datadog backend docs say', () => {
  it('TINKR_BACKEND, DD_API_KEY, DD_APP_KEY and DD_SITE; /logs is answered from Datadog (the simulator)', async () => {
    const s = scratch();
    const cli = await startCli([], {
      scratch: s,
      env: {
        TINKR_BACKEND: 'datadog',
        DD_API_KEY: PROD_KEYS.apiKey,
        DD_APP_KEY: PROD_KEYS.appKey,
        DD_SITE: 'datadoghq.eu',
        DD_API_URL: prodSim.url,
        TINKR_API_KEYS,
        PORT: '0',
      },
    });
    try {
      // DD_API_URL overrides the site's address: the line names both.
      expect(cli.listening).toMatchObject({ level: 'info', profile: 'default', site: 'datadoghq.eu', api_url: prodSim.url, source: 'environment' });
      // PORT=0 picks a free port; the log line names the real one.
      expect(cli.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(Number(new URL(cli.url).port)).toBeGreaterThan(0);
      // Ready once Datadog accepted the keys; after that the only calls upstream are the test's.
      const ready = await untilReady(cli.url);
      expect(ready.keys).toMatchObject({ status: 'ok', site: 'datadoghq.eu' });

      const before = prodSim.callCount('logs');
      const res = await fetch(`${cli.url}/logs?service=payments-api&since=15m&limit=5`, { headers: AUTH });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { data: Array<{ service: string }> };
      expect(body.data).toHaveLength(5);
      expect(new Set(body.data.map((e) => e.service))).toEqual(new Set(['payments-api']));
      expect(prodSim.callCount('logs')).toBe(before + 1);
      expect(lastKeys(prodSim)).toEqual(PROD_KEYS);

      const health = (await (await fetch(`${cli.url}/health`)).json()) as Record<string, unknown>;
      expect(health).toMatchObject({ status: 'ok', version: VERSION, active_profile: 'default', profiles: { default: 'datadog' } });
      expect((await fetch(`${cli.url}/logs?since=15m`)).status).toBe(401);
    } finally {
      expectCleanStop(await cli.stop());
    }
  });
});

describe('a shared store that cannot be reached', () => {
  it('does not stop the start: it serves, /readyz says "degraded", and the password is printed nowhere', async () => {
    const s = scratch();
    const nobody = await freePort();
    const cli = await startCli([], {
      scratch: s,
      env: { ...envOnlyStart(prodSim.url, { token: TOKEN, subject: 'cli' }), DD_API_KEY: PROD_KEYS.apiKey, DD_APP_KEY: PROD_KEYS.appKey, TINKR_REDIS_URL: `redis://:${PLANT}@127.0.0.1:${nobody}/1` },
    });
    try {
      expect(cli.listening).toMatchObject({ store: `redis://127.0.0.1:${nobody}/1` });
      expect((await fetch(`${cli.url}/logs?service=payments-api&since=15m&limit=2`, { headers: AUTH })).status).toBe(200);
      expect((await untilReady(cli.url)).store).toBe('degraded');
      expect(cli.logLines().filter((l) => l.level === 'warn').map((l) => l.msg)).toContain("shared store unreachable at start: serving with this replica's own state until it answers");
    } finally {
      const result = await cli.stop();
      expectCleanStop(result);
      expectNoPlant(result);
    }
  });
});

describe.concurrent('start from a TOML profile', () => {
  const CONFIG = `
active_profile = "prod"

[auth]
api_keys = [{ hash = "${sha256Hex(TOKEN)}", subject = "cli", roles = ["viewer"] }]

[profiles.prod]
backend = "datadog"
site = "datadoghq.eu"
api_url = "env:CLI_PROD_SIM_URL"
api_key = "env:PROD_DD_API_KEY"
app_key = "env:PROD_DD_APP_KEY"

[profiles.staging]
backend = "datadog"
site = "us5.datadoghq.com"
api_url = "env:CLI_STAGING_SIM_URL"
api_key = "env:STAGING_DD_API_KEY"
app_key = "env:STAGING_DD_APP_KEY"
`;

  /**
   * ~/.tinkr/config.toml, with the keys spread over the two .env files: ~/.tinkr/.env wins
   * over ./.env, and neither overrides a variable that is already set (a wrong value planted
   * in each proves it).
   */
  function profileHome(): Scratch {
    const s = scratch();
    s.write('home/.tinkr/config.toml', CONFIG);
    s.write('home/.tinkr/.env', `PROD_DD_API_KEY=${PROD_KEYS.apiKey}\nCLI_PROD_SIM_URL=http://127.0.0.1:9\n`);
    s.write('work/.env', `PROD_DD_APP_KEY=${PROD_KEYS.appKey}\nPROD_DD_API_KEY=wrong-key-from-cwd-env\nSTAGING_DD_APP_KEY=wrong-key-from-cwd-env\n`);
    return s;
  }
  const profileEnv = () => ({
    CLI_PROD_SIM_URL: prodSim.url,
    CLI_STAGING_SIM_URL: stagingSim.url,
    STAGING_DD_API_KEY: STAGING_KEYS.apiKey,
    STAGING_DD_APP_KEY: STAGING_KEYS.appKey,
    PORT: '0',
    HOST: '127.0.0.1',
  });

  async function expectServes(url: string, sim: TestSimulator, keys: typeof PROD_KEYS, profile: string): Promise<void> {
    const res = await fetch(`${url}/logs?service=checkout&since=15m&limit=2`, { headers: AUTH });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { data: unknown[] }).data).toHaveLength(2);
    expect(sim.requests.some((r) => r.endpoint === 'logs' && r.headers['dd-api-key'] === keys.apiKey && r.headers['dd-application-key'] === keys.appKey)).toBe(true);
    const health = (await (await fetch(`${url}/health`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ active_profile: profile, profiles: { prod: 'datadog', staging: 'datadog' } });
  }

  it('active_profile picks the profile; env: values, ~/.tinkr/.env and ./.env fill in, never over set variables', async () => {
    const cli = await startCli([], { scratch: profileHome(), env: profileEnv() });
    try {
      expect(cli.listening).toMatchObject({ profile: 'prod', site: 'datadoghq.eu' });
      await expectServes(cli.url, prodSim, PROD_KEYS, 'prod');
    } finally {
      expectCleanStop(await cli.stop());
    }
  });

  it('TINKR_PROFILE beats active_profile', async () => {
    const cli = await startCli([], { scratch: profileHome(), env: { ...profileEnv(), TINKR_PROFILE: 'staging' } });
    try {
      expect(cli.listening).toMatchObject({ profile: 'staging', site: 'us5.datadoghq.com' });
      await expectServes(cli.url, stagingSim, STAGING_KEYS, 'staging');
    } finally {
      expectCleanStop(await cli.stop());
    }
  });

  it('--profile beats TINKR_PROFILE; --host and --port beat HOST and PORT', async () => {
    // Neither address could be listened on: only the flags make this start work.
    const env = { ...profileEnv(), TINKR_PROFILE: 'prod', HOST: '203.0.113.7', PORT: '1' };
    const cli = await startCli(['--profile', 'staging', '--host', '127.0.0.1', '--port', '0'], { scratch: profileHome(), env });
    try {
      expect(cli.listening).toMatchObject({ profile: 'staging' });
      await expectServes(cli.url, stagingSim, STAGING_KEYS, 'staging');
    } finally {
      expectCleanStop(await cli.stop());
    }
  });

  it('auth.mode = "none" starts without API keys, warns, and lets anyone read', async () => {
    const s = scratch();
    s.write('home/.tinkr/config.toml', `[auth]\nmode = "none"\n\n[profiles.dev]\nbackend = "datadog"\napi_url = "env:CLI_PROD_SIM_URL"\napi_key = "env:PROD_DD_API_KEY"\napp_key = "env:PROD_DD_APP_KEY"\n`);
    const cli = await startCli([], {
      scratch: s,
      env: { CLI_PROD_SIM_URL: prodSim.url, PROD_DD_API_KEY: PROD_KEYS.apiKey, PROD_DD_APP_KEY: PROD_KEYS.appKey, HOST: '127.0.0.1', PORT: '0' },
    });
    try {
      await vi.waitFor(() => expect(cli.logLines()).toContainEqual(expect.objectContaining({ level: 'warn', msg: expect.stringContaining('auth.mode = "none"') })));
      expect((await fetch(`${cli.url}/logs?since=15m&limit=1`)).status).toBe(200);
    } finally {
      expectCleanStop(await cli.stop());
    }
  });

  const SOLO = `
[auth]
api_keys = [{ hash = "${sha256Hex(TOKEN)}", subject = "cli", roles = ["viewer"] }]

[profiles.solo]
backend = "datadog"
api_url = "env:CLI_STAGING_SIM_URL"
api_key = "env:STAGING_DD_API_KEY"
app_key = "env:STAGING_DD_APP_KEY"
`;

  it('TINKR_CONFIG names the file over ~/.tinkr/config.toml; its only profile is used', async () => {
    const s = profileHome();
    const solo = s.write('elsewhere/solo.toml', SOLO);
    const cli = await startCli([], { scratch: s, env: { ...profileEnv(), TINKR_CONFIG: solo } });
    try {
      expect(cli.listening).toMatchObject({ profile: 'solo', site: 'datadoghq.com' });
      const health = (await (await fetch(`${cli.url}/health`)).json()) as Record<string, unknown>;
      expect(health).toMatchObject({ active_profile: 'solo', profiles: { solo: 'datadog' } });
    } finally {
      expectCleanStop(await cli.stop());
    }
  });

  it('--config beats TINKR_CONFIG, relative to the working directory', async () => {
    const s = profileHome();
    s.write('work/conf/solo.toml', SOLO);
    const cli = await startCli(['--config', 'conf/solo.toml'], { scratch: s, env: { ...profileEnv(), TINKR_CONFIG: '/nonexistent/tinkr.toml' } });
    try {
      expect(cli.listening).toMatchObject({ profile: 'solo' });
      const res = await fetch(`${cli.url}/logs?since=15m&limit=1`, { headers: AUTH });
      expect(res.status).toBe(200);
    } finally {
      expectCleanStop(await cli.stop());
    }
  });
});

/** Everything a failing start printed, which must never hold PLANT. */
function expectNoPlant(result: CliResult): void {
  expect(result.stdout).not.toContain(PLANT);
  expect(result.stderr).not.toContain(PLANT);
  expect(result.stderr).not.toContain(VIOLATIONS_MARKER);
}

const ENV_OK = { TINKR_BACKEND: 'datadog', DD_API_KEY: PLANT, DD_APP_KEY: `${PLANT}-app`, TINKR_API_KEYS };
const FILE_AUTH = `[auth]\napi_keys = [{ hash = "${sha256Hex(TOKEN)}", subject = "cli", roles = ["viewer"] }]\n`;

interface FailingStart {
  what: string;
  toml?: string;
  args?: string[];
  env?: Record<string, string | undefined>;
  /** Each must appear in stderr; `{file}` stands for the config file's path. */
  expected: Array<string | RegExp>;
}

// Each message is checked in full in test/config/load.test.ts; these prove the process exits
// with it, and that nothing else it prints holds a planted secret.
const CONFIG_ERRORS: FailingStart[] = [
  {
    what: 'bad TOML',
    toml: `${FILE_AUTH}[server]\ncursor_secret = "${PLANT}\n`,
    expected: [/{file}:\d+:\d+: /, 'Invalid TOML document'],
  },
  {
    what: 'an unknown key',
    toml: `${FILE_AUTH}[profiles.p]\nbackend = "datadog"\nsit = "${PLANT}"\n`,
    expected: ['{file}: ', 'profiles.p: unknown key "sit"'],
  },
  {
    what: 'an invalid site',
    toml: `${FILE_AUTH}[profiles.p]\nbackend = "datadog"\nsite = "${PLANT}.datadoghq.com"\n`,
    expected: ['{file}: ', 'profiles.p.site: ', ...DATADOG_SITES],
  },
  {
    what: 'missing keys',
    toml: `${FILE_AUTH}[profiles.p]\nbackend = "datadog"\n`,
    env: { DD_API_KEY: PLANT, DD_APP_KEY: undefined },
    expected: ['{file}: profiles.p: ', 'no Datadog keys: set DD_APP_KEY'],
  },
  {
    what: 'several mistakes at once, all reported in one run',
    toml: `${FILE_AUTH}[server]\nrequest_timout_ms = 1\n[profiles.p]\nbackend = "datadog"\nsite = "${PLANT}.datadoghq.com"\napi_key = "${PLANT}"\n`,
    expected: ['{file}: 3 configuration problems:\n', '  {file}: profiles.p.api_key: literal keys are refused', '  {file}: server: unknown key "request_timout_ms"', '  {file}: profiles.p.site: '],
  },
  {
    what: 'an unknown profile',
    toml: `${FILE_AUTH}[profiles.p]\nbackend = "datadog"\n`,
    args: ['--profile', 'nope'],
    expected: ['{file}: ', 'profile "nope" does not exist; profiles: p'],
  },
  {
    what: 'several profiles and no choice',
    toml: `${FILE_AUTH}[profiles.a]\nbackend = "datadog"\n[profiles.b]\nbackend = "datadog"\n`,
    expected: ['{file}: ', 'several profiles (a, b) and none chosen; set active_profile, TINKR_PROFILE or --profile'],
  },
  {
    what: 'a literal key',
    toml: `${FILE_AUTH}[profiles.p]\nbackend = "datadog"\napi_key = "${PLANT}"\n`,
    expected: ['{file}: profiles.p.api_key: ', 'literal keys are refused; write "env:NAME"'],
  },
  {
    what: 'an unsupported backend in the profile',
    toml: `${FILE_AUTH}[profiles.p]\nbackend = "loki"\n`,
    expected: ['{file}: profiles.p.backend: ', 'backend "loki" is not supported; this server implements: datadog'],
  },
  {
    what: 'no API keys',
    toml: `[profiles.p]\nbackend = "datadog"\n`,
    env: { TINKR_API_KEYS: undefined },
    expected: ['{file}: auth.api_keys: no API keys'],
  },
  {
    what: 'a config file that does not exist',
    args: ['--config', 'missing.toml'],
    expected: [/\/work\/missing\.toml: cannot read the configuration file \(ENOENT\)/],
  },
  {
    what: 'an unsupported TINKR_BACKEND',
    env: { TINKR_BACKEND: 'loki' },
    expected: ['environment: TINKR_BACKEND: backend "loki" is not supported; this server implements: datadog'],
  },
  {
    what: 'a malformed TINKR_REDIS_URL (its password is not echoed)',
    env: { TINKR_REDIS_URL: `redis://:${PLANT}@cache.internal:not-a-port` },
    expected: ['environment: TINKR_REDIS_URL: expected redis://[[user]:password@]host[:port][/db] or rediss://'],
  },
  {
    what: 'a store URL of another scheme, from the file through env:',
    toml: `${FILE_AUTH}[store]\nurl = "env:CACHE_URL"\n`,
    env: { CACHE_URL: `http://:${PLANT}@cache.internal:6379` },
    expected: ['{file}: ', 'store.url: expected redis://'],
  },
  {
    what: 'an unknown [store] key',
    toml: `${FILE_AUTH}[store]\nurl = "env:TINKR_REDIS_URL"\nprefix = "x:"\n`,
    env: { TINKR_REDIS_URL: `redis://:${PLANT}@127.0.0.1:1` },
    expected: ['{file}: ', 'store: unknown key "prefix"'],
  },
  {
    what: 'a literal store password',
    toml: `${FILE_AUTH}[store]\nurl = "redis://127.0.0.1:1"\npassword = "${PLANT}"\n`,
    expected: ['{file}: store.password: ', 'a literal password is refused; write "env:NAME"'],
  },
  {
    what: 'a password written into a literal store URL',
    toml: `${FILE_AUTH}[store]\nurl = "redis://:${PLANT}@127.0.0.1:1"\n`,
    expected: ['{file}: store.url: ', 'a password in the file is refused'],
  },
  {
    what: 'no configuration at all',
    env: { TINKR_BACKEND: undefined },
    expected: ['environment: no configuration file', 'TINKR_BACKEND=datadog'],
  },
];

describe.concurrent('configuration mistakes exit 78, naming the file and key, never a secret', () => {
  it.each(CONFIG_ERRORS)('$what', async ({ toml, args = [], env = {}, expected }) => {
    const s = scratch();
    const file = toml === undefined ? undefined : s.write('work/tinkr.toml', toml);
    const result = await runCli(file ? ['--config', file, ...args] : args, { scratch: s, env: { ...ENV_OK, ...env } });
    expect(result.code).toBe(78);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^tinkr-server: /);
    for (const part of expected) {
      if (typeof part === 'string') expect(result.stderr).toContain(file ? part.replaceAll('{file}', file) : part);
      else expect(result.stderr).toMatch(new RegExp(part.source.replaceAll('{file}', (file ?? '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))));
    }
    expectNoPlant(result);
  });
});

describe.concurrent('usage', () => {
  it.each([
    ['an unknown flag', ['--bogus'], /Unknown option '--bogus'/],
    ['a port that is not a number', ['--port', 'eighty'], /--port: expected a port number 0-65535, got "eighty"/],
    ['an unknown command', ['serve'], /unknown command: 1 unexpected argument/],
    // A key pasted where a command goes is not echoed back.
    ['a stray argument after demo', ['demo', PLANT], /unknown command: 1 unexpected argument \(the only command is "demo"\)/],
    ['a stray argument', [PLANT, 'more'], /unknown command: 2 unexpected arguments/],
  ])('%s exits 64, even when the configuration is broken too', async (_what, args, message) => {
    const result = await runCli(args, { scratch: scratch(), env: { ...ENV_OK, DD_SITE: 'not-a-site' } });
    expect(result.code).toBe(64);
    expect(result.stderr).toMatch(message);
    expectNoPlant(result);
  });

  it('--help prints every flag and the exit codes, and exits 0 without reading any configuration', async () => {
    // A broken environment does not matter to --help.
    const result = await runCli(['--help'], { scratch: scratch(), env: { TINKR_BACKEND: 'loki' } });
    expect(result.code).toBe(0);
    for (const flag of ['--config PATH', '--profile NAME', '--host HOST', '--port N', '--check', '--help', '--version', 'demo']) {
      expect(result.stdout).toContain(flag);
    }
    expect(result.stdout).toContain('0 clean shutdown (--check: all good), 64 usage error,\n  69 secret manager or Datadog unreachable, 78 configuration error or keys rejected.');
    expect(result.stderr).toBe('');
  });

  it('--version prints the package version and exits 0', async () => {
    const result = await runCli(['--version'], { scratch: scratch(), env: {} });
    expect(result).toMatchObject({ code: 0, stdout: `tinkr-server ${VERSION}\n`, stderr: '' });
  });

  it('a metrics port already in use exits 69, naming the metrics port and TINKR_METRICS_PORT', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = blocker.address() as AddressInfo;
      const result = await runCli(['--host', '127.0.0.1', '--port', '0'], {
        scratch: scratch(),
        env: { ...ENV_OK, DD_API_URL: prodSim.url, TINKR_METRICS_PORT: String(port) },
      });
      expect(result.code).toBe(69);
      expect(result.stderr).toContain(`tinkr-server: cannot listen: the metrics port ${port} (TINKR_METRICS_PORT) is not available (EADDRINUSE)`);
      expect(result.stderr).toContain('or to 0 to turn the metrics listener off');
      expectNoPlant(result);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it('a port already in use exits 69 (a required resource is unavailable)', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = blocker.address() as AddressInfo;
      const result = await runCli(['--host', '127.0.0.1', '--port', String(port)], {
        scratch: scratch(),
        env: { ...ENV_OK, DD_API_URL: prodSim.url },
      });
      expect(result.code).toBe(69);
      expect(result.stderr).toMatch(/tinkr-server: cannot listen: .*EADDRINUSE/);
      expectNoPlant(result);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});
