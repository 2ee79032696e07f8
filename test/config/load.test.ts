import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/auth/keyring.ts';
import { parseCommandLine } from '../../src/config/args.ts';
import { StartupError } from '../../src/config/errors.ts';
import { MAX_REPORTED_PROBLEMS } from '../../src/config/problems.ts';
import { loadConfig, type LoadInputs } from '../../src/config/load.ts';
import { DEFAULT_SHUTDOWN_TIMEOUT_MS } from '../../src/config/schema.ts';
import { DEFAULT_MAX_EVENT_LOOP_DELAY_MS } from '../../src/http/load-shedding.ts';
import { DEFAULT_UPSTREAM_POLICY } from '../../src/upstream/pipeline.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const HASH_GRAFANA = sha256Hex('token-grafana');
const HASH_PAYMENTS = sha256Hex('token-payments');

/** A scratch HOME and working directory, with the fixture's placeholder hashes filled in. */
function scratch(files: Record<string, string> = {}): { home: string; cwd: string; write(name: string, text: string): string } {
  const root = mkdtempSync(join(tmpdir(), 'tinkr-config-'));
  const home = join(root, 'home');
  const cwd = join(root, 'work');
  mkdirSync(home);
  mkdirSync(cwd);
  const write = (name: string, text: string) => {
    const path = join(root, name);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, text.replaceAll('HASH_GRAFANA', HASH_GRAFANA).replaceAll('HASH_PAYMENTS', HASH_PAYMENTS));
    return path;
  };
  for (const [name, text] of Object.entries(files)) write(name, text);
  return { home, cwd, write };
}

const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');

function inputs(s: { home: string; cwd: string }, argv: string[], env: Record<string, string>): LoadInputs {
  return { args: parseCommandLine(argv), env, homeDir: s.home, cwd: s.cwd };
}

function failure(fn: () => unknown): StartupError {
  try {
    fn();
  } catch (error) {
    if (error instanceof StartupError) return error;
    throw error;
  }
  throw new Error('expected a StartupError');
}

const prodEnv = { PROD_DD_API_KEY: 'prod-api-key-value', PROD_DD_APP_KEY: 'prod-app-key-value' };

describe('loadConfig from a profile file', () => {
  it('reads the active profile, resolving env: references', () => {
    const s = scratch();
    const file = s.write('config.toml', fixture('full.toml'));
    const config = loadConfig(inputs(s, ['--config', file], prodEnv));
    expect(config.profileName).toBe('datadog-prod');
    expect(config.profiles).toEqual({ 'datadog-prod': 'datadog', staging: 'datadog' });
    expect(config.datadog).toEqual({
      site: 'datadoghq.eu',
      envSite: undefined,
      apiUrl: undefined,
      credentials: { kind: 'static', apiKey: 'prod-api-key-value', appKey: 'prod-app-key-value' },
    });
    expect(config.server).toMatchObject({ corsOrigins: ['https://grafana.example.com'], requestTimeoutMs: 20000, bodyTimeoutMs: 15000, cursorSecret: undefined });
    expect(config.auth.keys.map((k) => [k.subject, k.services])).toEqual([
      ['grafana', undefined],
      ['team-payments', ['payments-api']],
    ]);
    expect(config.maxRangeMs.logs).toBe(7 * 86_400_000);
    expect(config.maxRangeMs.metrics).toBe(455 * 86_400_000);
    expect(config.listen).toEqual({ host: '0.0.0.0', port: 8000 });
  });

  it('lets --profile beat TINKR_PROFILE beat active_profile; an unused profile may reference unset variables', () => {
    const s = scratch();
    const file = s.write('config.toml', fixture('full.toml'));
    const stagingEnv = { STAGING_DD_API_KEY: 'sk', STAGING_DD_APP_KEY: 'sa' };
    expect(loadConfig(inputs(s, ['--config', file], { ...stagingEnv, TINKR_PROFILE: 'staging' })).profileName).toBe('staging');
    const byFlag = loadConfig(inputs(s, ['--config', file, '--profile', 'staging'], { ...stagingEnv, TINKR_PROFILE: 'datadog-prod' }));
    expect(byFlag.profileName).toBe('staging');
    expect(byFlag.datadog.apiUrl).toBe('http://127.0.0.1:8126');
    expect(byFlag.datadog.site).toBe('us5.datadoghq.com');
  });

  it('finds ~/.tinkr/config.toml and TINKR_CONFIG', () => {
    const s = scratch();
    s.write('home/.tinkr/config.toml', fixture('full.toml'));
    expect(loadConfig(inputs(s, [], prodEnv)).source).toBe(join(s.home, '.tinkr', 'config.toml'));
    const other = s.write('elsewhere.toml', fixture('aws.toml'));
    expect(loadConfig(inputs(s, [], { TINKR_CONFIG: other })).source).toBe(other);
  });

  it('takes the keys from a secret manager when the profile names one', () => {
    const s = scratch();
    const file = s.write('config.toml', fixture('aws.toml'));
    const config = loadConfig(inputs(s, ['--config', file], { DD_SITE: 'ap1.datadoghq.com' }));
    expect(config.datadog.credentials).toMatchObject({ kind: 'secrets', secrets: { provider: 'aws', secret: 'prod/tinkr/datadog', region: 'eu-west-1', timeout_ms: 5000 } });
    expect(config.datadog.site).toBeUndefined();
    expect(config.datadog.envSite).toBe('ap1.datadoghq.com');
    expect(config.auth.mode).toBe('none');
  });

  it('refuses api_key/app_key next to a secret manager: one source of keys only', () => {
    const s = scratch();
    const file = s.write('config.toml', fixture('aws.toml').replace('backend = "datadog"\n', 'backend = "datadog"\napp_key = "env:PROD_DD_APP_KEY"\n'));
    const error = failure(() => loadConfig(inputs(s, ['--config', file], prodEnv)));
    expect(error.exitCode).toBe(78);
    expect(error.message).toBe(`${file}: profiles.prod.app_key: applies only when [secrets] provider is "env"; with provider "aws" the keys come from the secret manager`);
    expect(error.message).not.toContain('prod-app-key-value');
  });

  it.each([
    ['an unknown key', '[profiles.p]\nbackend = "datadog"\nsit = "datadoghq.com"\n', /profiles\.p: unknown key "sit"/],
    ['an invalid site', '[profiles.p]\nbackend = "datadog"\nsite = "datadoghq.co"\n', /profiles\.p\.site: .*datadoghq\.com/],
    ['a literal key', '[profiles.p]\nbackend = "datadog"\napi_key = "abcdef0123456789"\n', /profiles\.p\.api_key: literal keys are refused/],
    ['an unsupported backend', '[profiles.p]\nbackend = "loki"\n', /profiles\.p\.backend: backend "loki" is not supported; this server implements: datadog/],
    ['bad TOML', 'a = [1,\n', /config\.toml:\d+:\d+: Invalid TOML document/],
    ['an unknown role', '[auth]\napi_keys = [{ hash = "HASH_GRAFANA", subject = "x", roles = ["admin"] }]\n[profiles.p]\nbackend = "datadog"\n', /auth\.api_keys\.0\.roles\.0/],
    ['a bad hash', '[auth]\napi_keys = [{ hash = "abc", subject = "x", roles = ["viewer"] }]\n[profiles.p]\nbackend = "datadog"\n', /SHA-256/],
    ['several profiles and no choice', '[profiles.a]\nbackend = "datadog"\n[profiles.b]\nbackend = "datadog"\n', /several profiles \(a, b\)/],
    ['an unknown active profile', 'active_profile = "c"\n[profiles.a]\nbackend = "datadog"\n', /active_profile: profile "c" does not exist; profiles: a/],
    ['an unset variable', '[profiles.p]\nbackend = "datadog"\napi_key = "env:NOPE_KEY"\n', /profiles\.p\.api_key: environment variable NOPE_KEY/],
    ['a bad duration', '[profiles.p]\nbackend = "datadog"\n[profiles.p.max_range]\nlogs = "7 days"\n', /max_range\.logs/],
    ['an unbounded body timeout', '[server]\nbody_timeout_ms = 0\n[profiles.p]\nbackend = "datadog"\n', /server\.body_timeout_ms/],
  ])('exits 78 on %s, naming the file and key', (_what, toml, message) => {
    const s = scratch();
    const file = s.write('config.toml', toml);
    const error = failure(() => loadConfig(inputs(s, ['--config', file], { DD_API_KEY: 'k', DD_APP_KEY: 'a', TINKR_API_KEYS: JSON.stringify([{ hash: HASH_GRAFANA, subject: 'g', roles: ['viewer'] }]) })));
    expect(error.exitCode).toBe(78);
    expect(error.message).toMatch(message);
    expect(error.message).toContain(file);
  });

  it('reads the load-shedding and shutdown keys of [server], with named defaults', () => {
    const s = scratch();
    const profile = '[profiles.p]\nbackend = "datadog"\napi_key = "env:K"\napp_key = "env:A"\n[auth]\nmode = "none"\n';
    const env = { K: 'k', A: 'a' };
    const defaults = loadConfig(inputs(s, ['--config', s.write('defaults.toml', profile)], env));
    expect(defaults.server.loadShedding).toEqual({ maxEventLoopDelayMs: DEFAULT_MAX_EVENT_LOOP_DELAY_MS, maxHeapUsedBytes: undefined, maxRssBytes: 0 });
    expect(defaults.server.shutdownTimeoutMs).toBe(DEFAULT_SHUTDOWN_TIMEOUT_MS);

    const custom = s.write(
      'custom.toml',
      `[server]\nmax_event_loop_delay_ms = 250\nmax_heap_used_bytes = 536870912\nmax_rss_bytes = 805306368\nshutdown_timeout_ms = 25000\n${profile}`,
    );
    const config = loadConfig(inputs(s, ['--config', custom], env));
    expect(config.server.loadShedding).toEqual({ maxEventLoopDelayMs: 250, maxHeapUsedBytes: 536_870_912, maxRssBytes: 805_306_368 });
    expect(config.server.shutdownTimeoutMs).toBe(25_000);

    const off = s.write('off.toml', `[server]\nmax_event_loop_delay_ms = 0\nmax_heap_used_bytes = 0\n${profile}`);
    expect(loadConfig(inputs(s, ['--config', off], env)).server.loadShedding).toEqual({ maxEventLoopDelayMs: 0, maxHeapUsedBytes: 0, maxRssBytes: 0 });
  });

  it.each([
    ['max_event_loop_delay_ms = -1', /server\.max_event_loop_delay_ms/],
    ['max_heap_used_bytes = 1.5', /server\.max_heap_used_bytes/],
    ['max_rss_bytes = "1GB"', /server\.max_rss_bytes/],
    ['shutdown_timeout_ms = 3600000', /server\.shutdown_timeout_ms/],
    ['max_event_loop_delay = 100', /unknown key "max_event_loop_delay"/],
  ])('exits 78 on [server] %s', (line, message) => {
    const s = scratch();
    const file = s.write('config.toml', `[server]\n${line}\n[auth]\nmode = "none"\n[profiles.p]\nbackend = "datadog"\n`);
    const error = failure(() => loadConfig(inputs(s, ['--config', file], { DD_API_KEY: 'k', DD_APP_KEY: 'a' })));
    expect(error.exitCode).toBe(78);
    expect(error.message).toMatch(message);
  });

  it('never quotes the file in a TOML error (it could hold a secret)', () => {
    const s = scratch();
    const file = s.write('config.toml', '[server]\ncursor_secret = "SECRET-MARKER-VALUE\n');
    const error = failure(() => loadConfig(inputs(s, ['--config', file], {})));
    expect(error.message).not.toContain('SECRET-MARKER');
  });

  it('refuses to start without API keys unless auth.mode = "none"', () => {
    const s = scratch();
    const file = s.write('config.toml', '[profiles.p]\nbackend = "datadog"\n');
    const error = failure(() => loadConfig(inputs(s, ['--config', file], { DD_API_KEY: 'k', DD_APP_KEY: 'a' })));
    expect(error.message).toMatch(/auth\.api_keys: no API keys/);
  });
});

describe('every problem of a file in one run', () => {
  const callers = { TINKR_API_KEYS: JSON.stringify([{ hash: HASH_GRAFANA, subject: 'g', roles: ['viewer'] }]) };

  it('lists literal keys, unset env: variables, schema errors, unknown keys and the backend together, each with file and key path, no value', () => {
    const s = scratch();
    const file = s.write(
      'config.toml',
      [
        '[server]',
        'request_timout_ms = 5000',
        'cursor_secret = "env:UNSET_CURSOR_SECRET"',
        '[auth]',
        'mode = "sometimes"',
        '[profiles.p]',
        'backend = "loki"',
        'site = "datadoghq.co"',
        'api_key = "PLANTED-LITERAL-KEY"',
        'app_key = "env:UNSET_APP_KEY"',
        '[profiles.p.max_range]',
        'logs = "7 days"',
        '',
      ].join('\n'),
    );
    const error = failure(() => loadConfig(inputs(s, ['--config', file], callers)));
    expect(error.exitCode).toBe(78);
    const [head, ...lines] = error.message.split('\n');
    expect(head).toBe(`${file}: 8 configuration problems:`);
    expect(lines.every((line) => line.startsWith(`  ${file}: `))).toBe(true);
    const byPath = lines.map((line) => line.slice(`  ${file}: `.length));
    expect(byPath).toEqual([
      'profiles.p.api_key: literal keys are refused; write "env:NAME" and put the key in that environment variable',
      'server.cursor_secret: environment variable UNSET_CURSOR_SECRET (from "env:UNSET_CURSOR_SECRET") is not set',
      'profiles.p.app_key: environment variable UNSET_APP_KEY (from "env:UNSET_APP_KEY") is not set',
      'server: unknown key "request_timout_ms"',
      expect.stringMatching(/^auth\.mode: .*"keys"/),
      expect.stringMatching(/^profiles\.p\.site: .*datadoghq\.com/),
      expect.stringMatching(/^profiles\.p\.max_range\.logs: /),
      'profiles.p.backend: backend "loki" is not supported; this server implements: datadog',
    ]);
    expect(error.message).not.toContain('PLANTED-LITERAL-KEY');
  });

  it('reports the profile choice with the rest', () => {
    const s = scratch();
    const file = s.write('config.toml', '[profiles.a]\nbackend = "datadog"\nsit = "x"\n[profiles.b]\nbackend = "datadog"\n');
    const error = failure(() => loadConfig(inputs(s, ['--config', file], callers)));
    expect(error.message).toBe(
      [
        `${file}: 2 configuration problems:`,
        `  ${file}: several profiles (a, b) and none chosen; set active_profile, TINKR_PROFILE or --profile`,
        `  ${file}: profiles.a: unknown key "sit"`,
      ].join('\n'),
    );
  });

  it('reports missing Datadog keys and missing caller keys together', () => {
    const s = scratch();
    const file = s.write('config.toml', '[profiles.p]\nbackend = "datadog"\n');
    const error = failure(() => loadConfig(inputs(s, ['--config', file], {})));
    expect(error.message).toBe(
      [
        `${file}: 2 configuration problems:`,
        `  ${file}: profiles.p: no Datadog keys: set DD_API_KEY and DD_APP_KEY (or api_key/app_key = "env:NAME" in the profile, or a [secrets] provider)`,
        `  ${file}: auth.api_keys: no API keys: add [auth] api_keys (SHA-256 hashes of bearer tokens) or TINKR_API_KEYS; auth.mode = "none" is for local development only`,
      ].join('\n'),
    );
  });

  it(`lists at most MAX_REPORTED_PROBLEMS (${MAX_REPORTED_PROBLEMS}) and counts the rest`, () => {
    const s = scratch();
    const profiles = Array.from({ length: 30 }, (_, i) => `[profiles.p${i}]\nbackend = "datadog"\nsite = "nowhere-${i}.example"\n`).join('');
    const file = s.write('config.toml', `active_profile = "p0"\n${profiles}`);
    const error = failure(() => loadConfig(inputs(s, ['--config', file], callers)));
    const lines = error.message.split('\n');
    expect(lines[0]).toBe(`${file}: 30 configuration problems:`);
    expect(lines).toHaveLength(1 + MAX_REPORTED_PROBLEMS + 1);
    expect(lines.at(-1)).toBe(`  … and ${30 - MAX_REPORTED_PROBLEMS} more`);
  });

  it('lists every bad variable of the environment at once', () => {
    const s = scratch();
    const error = failure(() => loadConfig(inputs(s, [], { TINKR_BACKEND: 'datadog', DD_SITE: 'datadoghq.co', PORT: 'eighty', TINKR_LOG_LEVEL: 'loud' })));
    expect(error.exitCode).toBe(78);
    expect(error.message).toMatch(/^environment: 3 configuration problems:\n/);
    for (const name of ['DD_SITE', 'PORT', 'TINKR_LOG_LEVEL']) expect(error.message).toMatch(new RegExp(`^  environment: ${name}: `, 'm'));
  });
});

describe('access control settings', () => {
  const load = (toml: string, env: Record<string, string> = {}) => {
    const s = scratch();
    const file = s.write('config.toml', `[profiles.p]\nbackend = "datadog"\n${toml}`);
    return loadConfig(inputs(s, ['--config', file], { DD_API_KEY: 'k', DD_APP_KEY: 'a', ...env }));
  };
  const key = (extra: string) => `[auth]\napi_keys = [{ hash = "${HASH_GRAFANA}", subject = "g", roles = ["viewer"]${extra} }]\n`;

  it('defaults the quota to 600 a minute; [auth] quota and a key\'s own quota override it', () => {
    expect(load(key('')).auth.quota).toEqual({ requests: 600, per: '1m' });
    const config = load(`[auth]\nquota = { requests = 50, per = "10s" }\napi_keys = [{ hash = "${HASH_GRAFANA}", subject = "g", roles = ["viewer"], quota = "off" }]\n`);
    expect(config.auth.quota).toEqual({ requests: 50, per: '10s' });
    expect(config.auth.keys[0]!.quota).toBe('off');
  });

  it("defaults each key's share of the Datadog budget to 0.5; [auth] upstream_share and a key's own override it", () => {
    expect(load(key('')).auth.upstreamShare).toBe(0.5);
    const config = load(`[auth]\nupstream_share = 0.25\napi_keys = [{ hash = "${HASH_GRAFANA}", subject = "g", roles = ["viewer"], upstream_share = 1 }]\n`, {
      TINKR_API_KEYS: JSON.stringify([{ hash: HASH_PAYMENTS, subject: 'p', roles: ['viewer'], upstream_share: 0.1 }]),
    });
    expect(config.auth.upstreamShare).toBe(0.25);
    expect(config.auth.keys.map((k) => k.upstream_share)).toEqual([1, 0.1]);
  });

  it('accepts a quota, scope and no roles in TINKR_API_KEYS too', () => {
    const config = load('', {
      TINKR_API_KEYS: JSON.stringify([{ hash: HASH_PAYMENTS, subject: 'p', roles: [], services: ['payments-api'], env: 'prod', quota: { requests: 10, per: '1m' } }]),
    });
    expect(config.auth.keys[0]).toMatchObject({ roles: [], services: ['payments-api'], env: 'prod', quota: { requests: 10, per: '1m' } });
  });

  it('normalizes CORS origins to the exact form browsers send', () => {
    const config = load(`[server]\ncors_origins = ["https://Grafana.Example.com/", "http://localhost:3000", "https://x.example.com:443"]\n${key('')}`);
    expect(config.server.corsOrigins).toEqual(['https://grafana.example.com', 'http://localhost:3000', 'https://x.example.com']);
  });

  it.each([
    [key(', roles_extra = 1'), /unknown key "roles_extra"/],
    [`[auth]\napi_keys = [{ hash = "${HASH_GRAFANA}", subject = "g", roles = ["admin"] }]\n`, /auth\.api_keys\.0\.roles\.0/],
    [key(', services = ["pay ments"]'), /services\.0: letters, digits/],
    [key(', services = ["a,b"]'), /services\.0/],
    [key(', services = []'), /services/],
    [key(', env = "prod}"'), /env: letters/],
    [key(', quota = { requests = 0, per = "1m" }'), /at least 1; use quota = "off"/],
    [key(', quota = { requests = 10, per = "500ms" }'), /window from "1s" to "1d"/],
    [key(', quota = { requests = 10, per = "2d" }'), /window from "1s" to "1d"/],
    [key(', quota = { requests = 10 }'), /quota/],
    [key(', quota = "none"'), /quota/],
    [`[auth]\nquota = { requests = 10, per = "1m", burst = 5 }\n${key('').replace('[auth]\n', '')}`, /unknown key "burst"/],
    [`[server]\ncors_origins = ["https://grafana.example.com/dashboards"]\n${key('')}`, /cors_origins\.0: expected an origin/],
    [`[server]\ncors_origins = ["*"]\n${key('')}`, /cors_origins\.0/],
    [`[server]\ncors_origins = ["ftp://files.example.com"]\n${key('')}`, /cors_origins\.0/],
    [`[auth]\nupstream_share = 0\n${key('').replace('[auth]\n', '')}`, /auth\.upstream_share: expected a share of each Datadog limit above 0 and at most 1, such as 0\.5/],
    [`[auth]\nupstream_share = 1.5\n${key('').replace('[auth]\n', '')}`, /auth\.upstream_share: expected a share of each Datadog limit above 0 and at most 1/],
    [`[auth]\nupstream_share = "half"\n${key('').replace('[auth]\n', '')}`, /auth\.upstream_share: expected a share/],
    [key(', upstream_share = -0.5'), /auth\.api_keys\.0\.upstream_share: expected a share/],
  ])('exits 78 on a bad access setting (case %#)', (toml, message) => {
    const error = failure(() => load(toml));
    expect(error.exitCode).toBe(78);
    expect(error.message).toMatch(message);
  });
});

describe('loadConfig from the environment alone', () => {
  const base = { TINKR_BACKEND: 'datadog', DD_API_KEY: 'env-api-key', DD_APP_KEY: 'env-app-key', TINKR_API_KEYS: JSON.stringify([{ hash: HASH_GRAFANA, subject: 'g', roles: ['viewer'] }]) };

  it('boots as Datadog documents: TINKR_BACKEND, DD_API_KEY, DD_APP_KEY, DD_SITE', () => {
    const s = scratch();
    const config = loadConfig(inputs(s, [], { ...base, DD_SITE: 'datadoghq.eu', DD_API_URL: 'http://127.0.0.1:9999', PORT: '9000', HOST: '127.0.0.1' }));
    expect(config.source).toBe('environment');
    expect(config.profileName).toBe('default');
    expect(config.datadog).toEqual({
      site: undefined,
      envSite: 'datadoghq.eu',
      apiUrl: 'http://127.0.0.1:9999',
      credentials: { kind: 'static', apiKey: 'env-api-key', appKey: 'env-app-key' },
    });
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 9000 });
    expect(config.auth.keys[0]?.subject).toBe('g');
    expect(config.metricsPort).toBe(9464);
    expect(config.server.loadShedding.maxEventLoopDelayMs).toBe(DEFAULT_MAX_EVENT_LOOP_DELAY_MS);
    expect(config.server.shutdownTimeoutMs).toBe(DEFAULT_SHUTDOWN_TIMEOUT_MS);
    expect(loadConfig(inputs(s, [], { ...base, TINKR_METRICS_PORT: '0' })).metricsPort).toBe(0);
  });

  it.each([
    [{ TINKR_BACKEND: 'prometheus' }, /backend "prometheus" is not supported; this server implements: datadog/],
    [{ TINKR_BACKEND: undefined }, /TINKR_BACKEND=datadog/],
    [{ DD_SITE: 'datadoghq.co' }, /DD_SITE: expected one of datadoghq\.com/],
    [{ DD_APP_KEY: undefined }, /no Datadog keys: set DD_APP_KEY/],
    [{ TINKR_API_KEYS: '[{"hash": "zz"' }, /TINKR_API_KEYS: is not valid JSON/],
    [{ TINKR_API_KEYS: '[{"hash":"zz","subject":"x","roles":["viewer"]}]' }, /TINKR_API_KEYS\.0\.hash/],
    [{ PORT: 'eighty' }, /PORT/],
  ])('exits 78 on %j', (overrides, message) => {
    const s = scratch();
    const env = { ...base, ...overrides } as Record<string, string>;
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
    const error = failure(() => loadConfig(inputs(s, [], env)));
    expect(error.exitCode).toBe(78);
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain('env-api-key');
    expect(error.message).not.toContain('env-app-key');
  });

  it('exits 64 on a bad flag or port flag', () => {
    expect(failure(() => parseCommandLine(['--bogus'])).exitCode).toBe(64);
    expect(failure(() => parseCommandLine(['serve', 'extra'])).exitCode).toBe(64);
    const s = scratch();
    expect(failure(() => loadConfig(inputs(s, ['--port', 'x'], base))).exitCode).toBe(64);
  });
});

describe('[upstream]', () => {
  const minimal = `
[auth]
mode = "none"

[profiles.p]
backend = "datadog"
api_key = "env:K"
app_key = "env:A"
`;
  const env = { K: 'k', A: 'a' };
  const load = (extra: string) => {
    const s = scratch();
    return loadConfig(inputs(s, ['--config', s.write('config.toml', minimal + extra)], env));
  };

  it('defaults every key to the named production default', () => {
    expect(load('').upstream).toEqual(DEFAULT_UPSTREAM_POLICY);
    const s = scratch();
    expect(loadConfig(inputs(s, [], { TINKR_BACKEND: 'datadog', DD_API_KEY: 'k', DD_APP_KEY: 'a', TINKR_API_KEYS: `[{"hash":"${HASH_GRAFANA}","subject":"g","roles":["viewer"]}]` })).upstream).toEqual(
      DEFAULT_UPSTREAM_POLICY,
    );
  });

  it('reads every key, durations in ms', () => {
    const config = load(`
[upstream]
max_concurrent = 4
max_queued = 8
max_pages = 3

[upstream.cache]
enabled = false
max_bytes = 2097152
max_entries = 50
steps = [{ up_to = "1h", step = "1m" }, { up_to = "30d", step = "0s" }]
ingestion_delay = "5m"
immutable_ttl = "6h"
max_stale = "2h"

[upstream.budget]
reserve_fraction = 0.25
max_wait_ms = 500
reset_jitter_ms = 0
pacing = false
burst_fraction = 0.2
max_paced_age = "2m"
`);
    expect(config.upstream).toEqual({
      concurrency: { maxActive: 4, maxQueued: 8 },
      maxPages: 3,
      cache: {
        enabled: false,
        maxBytes: 2_097_152,
        maxEntries: 50,
        steps: [
          { upToMs: 3_600_000, stepMs: 60_000 },
          { upToMs: 30 * 86_400_000, stepMs: 0 },
        ],
        ingestionDelayMs: 300_000,
        immutableTtlMs: 6 * 3_600_000,
        maxStaleMs: 2 * 3_600_000,
      },
      budget: { reserveFraction: 0.25, maxWaitMs: 500, resetJitterMs: 0, pacing: false, burstFraction: 0.2, maxPacedAgeMs: 120_000 },
    });
  });

  it.each([
    ['[upstream]\nmax_concurency = 4', /upstream: unknown key "max_concurency"/],
    ['[upstream.cache]\nttl = "1m"', /upstream\.cache: unknown key "ttl"/],
    ['[upstream]\nmax_concurrent = 0', /upstream\.max_concurrent/],
    ['[upstream.budget]\nreserve_fraction = 1.5', /upstream\.budget\.reserve_fraction/],
    ['[upstream.cache]\nmax_stale = "soon"', /max_stale: expected a duration/],
    ['[upstream.cache]\nsteps = [{ up_to = "1m", step = "1m" }]', /steps\[0\]\.step must be shorter than its up_to/],
    ['[upstream.cache]\nsteps = [{ up_to = "1h", step = "1m" }, { up_to = "5m", step = "10s" }]', /steps\[1\]\.up_to must be longer/],
  ])('refuses %j', (extra, message) => {
    const error = failure(() => load(extra));
    expect(error.exitCode).toBe(78);
    expect(error.message).toMatch(message);
  });
});
