import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { apiBaseUrl, DEFAULT_SITE, type DatadogSite } from '../datadog/sites.ts';
import type { SecretsConfig } from '../secrets/schema.ts';
import type { UpstreamPolicy } from '../upstream/pipeline.ts';
import type { Args } from './args.ts';
import { envSchema, type Env, type LogLevel } from './env.ts';
import { configError } from './errors.ts';
import { ConfigProblems } from './problems.ts';
import { settingsOf, type ServerSettings, type Settings } from './settings.ts';
import { checkStoreLiterals, storeConfig, type StoreConfig } from './store.ts';
import {
  apiKeySchema,
  DEFAULT_FILE,
  DEFAULT_HOST,
  DEFAULT_LOG_LEVEL,
  DEFAULT_METRICS_PORT,
  DEFAULT_PORT,
  DEFAULT_PROFILE,
  DEFAULT_STORE,
  fileSchema,
  type ApiKeyConfig,
  type FileConfig,
  type ProfileConfig,
} from './schema.ts';

/** Everything the server needs to start, validated. Built once, then passed down; never re-read. */
export interface Config {
  /** The config file, or "environment" for an env-only start. */
  source: string;
  profileName: string;
  /** Every profile and its backend, for `GET /health`. */
  profiles: Record<string, string>;
  listen: { host: string; port: number };
  /** Prometheus self-metrics port; 0 disables. */
  metricsPort: number;
  logLevel: LogLevel;
  server: ServerSettings;
  auth: Settings['auth'] & { keys: ApiKeyConfig[] };
  datadog: {
    /** The profile's `site`; wins over everything else. */
    site: DatadogSite | undefined;
    /** `DD_SITE` from the environment; used when neither the profile nor the secret names a site. */
    envSite: DatadogSite | undefined;
    /** An `api_url` / `DD_API_URL` override of `https://api.{site}`. */
    apiUrl: string | undefined;
    credentials: { kind: 'static'; apiKey: string; appKey: string } | { kind: 'secrets'; secrets: SecretsConfig };
  };
  maxRangeMs: Settings['maxRangeMs'];
  /** `[upstream]`: cache, budget gate and concurrency limits. */
  upstream: UpstreamPolicy;
  /** The shared Redis (`TINKR_REDIS_URL` / `[store]`); absent: state stays in process. */
  store?: StoreConfig | undefined;
}

export const SUPPORTED_BACKENDS = ['datadog'] as const;
/** Name of the profile an environment-only start runs as. */
export const ENV_PROFILE = 'default';

export interface LoadInputs {
  args: Args;
  env: Readonly<Record<string, string | undefined>>;
  /** Where `~/.tinkr/config.toml` is looked for; undefined: nowhere (the demo, which reads no file). */
  homeDir: string | undefined;
  cwd: string;
}

export function loadConfig(inputs: LoadInputs): Config {
  const env = parseEnv(inputs.env);

  const path = configFile(inputs, env);
  const parsed = path ? readConfigFile(path, inputs, env) : undefined;
  const selected = parsed?.profile ?? envProfile(env);
  const file = parsed?.file ?? DEFAULT_FILE;
  // What depends on the file and the environment together, again collected in one report.
  const problems = new ConfigProblems(path ?? 'environment');
  const datadog = datadogConfig(selected, env, problems);
  const keys = callerKeys(file, env, problems);
  problems.throwIfAny();

  const settings = settingsOf(file, selected.profile);
  return {
    source: path ?? 'environment',
    profileName: selected.name,
    profiles: parsed ? Object.fromEntries(Object.entries(parsed.file.profiles).map(([n, p]) => [n, p.backend])) : { [ENV_PROFILE]: 'datadog' },
    listen: {
      host: inputs.args.host ?? env.HOST ?? DEFAULT_HOST,
      port: inputs.args.port ?? env.PORT ?? DEFAULT_PORT,
    },
    metricsPort: env.TINKR_METRICS_PORT ?? DEFAULT_METRICS_PORT,
    logLevel: env.TINKR_LOG_LEVEL ?? DEFAULT_LOG_LEVEL,
    server: { ...settings.server, cursorSecret: env.TINKR_CURSOR_SECRET ?? settings.server.cursorSecret },
    auth: { ...settings.auth, keys },
    datadog: datadog!,
    maxRangeMs: settings.maxRangeMs,
    upstream: settings.upstream,
    store: storeConfig(env.TINKR_REDIS_URL, file.store ?? DEFAULT_STORE),
  };
}

/** The variables, all checked: every problem of the environment in one report. */
function parseEnv(raw: Readonly<Record<string, string | undefined>>): Env {
  const problems = new ConfigProblems('environment');
  const result = envSchema.safeParse(raw);
  if (!result.success) problems.addSchemaIssues(result.error);
  else checkBackend('TINKR_BACKEND', result.data.TINKR_BACKEND, problems);
  problems.throwIfAny();
  return result.data!;
}

function checkBackend(path: string, backend: string | undefined, problems: ConfigProblems): void {
  if (backend !== undefined && !(SUPPORTED_BACKENDS as readonly string[]).includes(backend)) {
    problems.add(path, `backend ${JSON.stringify(backend.slice(0, 40))} is not supported; this server implements: ${SUPPORTED_BACKENDS.join(', ')}`);
  }
}

/** `--config`, else TINKR_CONFIG, else ~/.tinkr/config.toml when it exists. */
function configFile(inputs: LoadInputs, env: Env): string | undefined {
  const named = inputs.args.config ?? env.TINKR_CONFIG;
  if (named !== undefined) return resolve(inputs.cwd, named);
  if (inputs.homeDir === undefined) return undefined;
  const home = join(inputs.homeDir, '.tinkr', 'config.toml');
  return existsSync(home) ? home : undefined;
}

interface SelectedProfile {
  name: string;
  profile: ProfileConfig;
  /** Its key path in the file (`profiles.prod`), for messages; undefined for an environment-only start. */
  path: string | undefined;
}

/**
 * Reads, parses and checks the file. A file that cannot be read or is not TOML ends here; past
 * that, every problem (literal keys, unset `env:` variables, the profile choice, the schema,
 * unknown keys, the backend) is collected and all of them are reported together.
 */
function readConfigFile(file: string, inputs: LoadInputs, env: Env): { file: FileConfig; profile: SelectedProfile | undefined } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw configError(file, undefined, `cannot read the configuration file (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let raw: Record<string, unknown>;
  try {
    raw = parseToml(text) as Record<string, unknown>;
  } catch (error) {
    // smol-toml appends a code frame that quotes the file; only the first line is safe to show.
    const e = error as { message?: string; line?: number; column?: number };
    const summary = (e.message ?? 'invalid TOML').split('\n')[0]!;
    throw configError(`${file}:${e.line ?? '?'}:${e.column ?? '?'}`, undefined, summary);
  }

  const problems = new ConfigProblems(file);
  const profiles = isTable(raw.profiles) ? raw.profiles : {};
  for (const [name, profile] of Object.entries(profiles)) {
    if (!isTable(profile)) continue;
    for (const key of ['api_key', 'app_key']) {
      const value = profile[key];
      if (value !== undefined && !(typeof value === 'string' && value.startsWith('env:'))) {
        problems.add(`profiles.${name}.${key}`, 'literal keys are refused; write "env:NAME" and put the key in that environment variable');
      }
    }
  }

  checkStoreLiterals(raw.store, problems);

  const { profiles: _rawProfiles, ...global } = raw;
  const resolvedGlobal = resolveEnvRefs(global, inputs.env, problems, [], 'required') as Record<string, unknown>;
  const chosen = chooseProfile(Object.keys(profiles), inputs.args.profile ?? env.TINKR_PROFILE, resolvedGlobal.active_profile, problems);
  const resolvedProfiles = Object.fromEntries(
    Object.entries(profiles).map(([name, p]) => [name, resolveEnvRefs(p, inputs.env, problems, ['profiles', name], name === chosen ? 'required' : 'optional')]),
  );

  const result = fileSchema.safeParse({ ...resolvedGlobal, ...(isTable(raw.profiles) ? { profiles: resolvedProfiles } : {}) });
  if (!result.success) problems.addSchemaIssues(result.error);
  const profile = chosen === undefined ? undefined : result.data?.profiles[chosen];
  // The raw value when the schema refused the profile: an unsupported backend is still worth naming.
  const backend = profile?.backend ?? (chosen !== undefined && isTable(profiles[chosen]) ? profiles[chosen].backend : undefined);
  if (chosen !== undefined && typeof backend === 'string') checkBackend(`profiles.${chosen}.backend`, backend, problems);
  problems.throwIfAny();
  const config = result.data!;
  return { file: config, profile: chosen === undefined ? undefined : { name: chosen, profile: profile!, path: `profiles.${chosen}` } };
}

/**
 * --profile, else TINKR_PROFILE, else active_profile, else the only profile
 * (docs/configuration.md#where-the-configuration-comes-from); undefined with a problem when none
 * fits.
 */
function chooseProfile(names: string[], requested: string | undefined, active: unknown, problems: ConfigProblems): string | undefined {
  const wanted = requested ?? (typeof active === 'string' ? active : undefined);
  if (wanted !== undefined) {
    if (!names.includes(wanted)) {
      const known = names.length > 0 ? names.join(', ') : 'none';
      problems.add(requested !== undefined ? undefined : 'active_profile', `profile ${JSON.stringify(wanted)} does not exist; profiles: ${known}`);
      return undefined;
    }
    return wanted;
  }
  if (names.length === 1) return names[0];
  if (names.length > 1) problems.add(undefined, `several profiles (${names.join(', ')}) and none chosen; set active_profile, TINKR_PROFILE or --profile`);
  return undefined;
}

/**
 * Replaces every `"env:NAME"` string. An unset variable drops the key: in a profile not in use
 * silently, elsewhere with a problem.
 */
function resolveEnvRefs(
  value: unknown,
  env: Readonly<Record<string, string | undefined>>,
  problems: ConfigProblems,
  path: string[],
  missing: 'required' | 'optional',
): unknown {
  if (typeof value === 'string' && value.startsWith('env:')) {
    const name = value.slice(4);
    const resolved = env[name];
    if (resolved === undefined || resolved === '') {
      if (missing === 'required') problems.add(path.join('.'), `environment variable ${name} (from "env:${name}") is not set`);
      return undefined;
    }
    return resolved;
  }
  if (Array.isArray(value)) return value.map((v, i) => resolveEnvRefs(v, env, problems, [...path, String(i)], missing));
  if (isTable(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const resolved = resolveEnvRefs(v, env, problems, [...path, k], missing);
      if (resolved !== undefined) out[k] = resolved;
    }
    return out;
  }
  return value;
}

function envProfile(env: Env): SelectedProfile {
  if (env.TINKR_BACKEND === undefined) {
    throw configError(
      'environment',
      undefined,
      'no configuration file (none given with --config or TINKR_CONFIG, and no ~/.tinkr/config.toml); set TINKR_BACKEND=datadog with DD_API_KEY and DD_APP_KEY, or write a config file',
    );
  }
  return { name: ENV_PROFILE, profile: DEFAULT_PROFILE, path: undefined };
}

/** Where the Datadog keys come from; undefined with a problem when nowhere, or from two places. */
function datadogConfig(selected: SelectedProfile, env: Env, problems: ConfigProblems): Config['datadog'] | undefined {
  const { profile, path } = selected;
  const apiUrl = profile.api_url ?? env.DD_API_URL;
  const provider = profile.secrets?.provider ?? 'env';
  if (provider !== 'env') {
    // Two sources of keys would leave the reader guessing which one is used.
    const both = (['api_key', 'app_key'] as const).filter((key) => profile[key] !== undefined);
    for (const key of both) {
      problems.add(`${path}.${key}`, `applies only when [secrets] provider is "env"; with provider "${provider}" the keys come from the secret manager`);
    }
    return both.length > 0 ? undefined : { site: profile.site, envSite: env.DD_SITE, apiUrl, credentials: { kind: 'secrets', secrets: profile.secrets! } };
  }
  const apiKey = profile.api_key ?? env.DD_API_KEY;
  const appKey = profile.app_key ?? env.DD_APP_KEY;
  if (!apiKey || !appKey) {
    const missing = [!apiKey ? 'DD_API_KEY' : undefined, !appKey ? 'DD_APP_KEY' : undefined].filter(Boolean).join(' and ');
    problems.add(path, `no Datadog keys: set ${missing} (or api_key/app_key = "env:NAME" in the profile, or a [secrets] provider)`);
    return undefined;
  }
  return { site: profile.site, envSite: env.DD_SITE, apiUrl, credentials: { kind: 'static', apiKey, appKey } };
}

/** The caller keys; a problem when there are none and auth is on. A bad TINKR_API_KEYS is the environment's problem, reported at once. */
function callerKeys(file: FileConfig, env: Env, problems: ConfigProblems): ApiKeyConfig[] {
  const keys = [...file.auth.api_keys];
  if (env.TINKR_API_KEYS !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(env.TINKR_API_KEYS);
    } catch {
      throw configError('environment', 'TINKR_API_KEYS', 'is not valid JSON; expected an array of {hash, subject, roles, services?, env?, quota?, upstream_share?}');
    }
    const result = apiKeySchema.array().safeParse(parsed);
    if (!result.success) {
      const envProblems = new ConfigProblems('environment');
      envProblems.addSchemaIssues(result.error, 'TINKR_API_KEYS');
      envProblems.throwIfAny();
    }
    keys.push(...result.data!);
  }
  if (file.auth.mode === 'keys' && keys.length === 0) {
    problems.add('auth.api_keys', 'no API keys: add [auth] api_keys (SHA-256 hashes of bearer tokens) or TINKR_API_KEYS; auth.mode = "none" is for local development only');
  }
  return keys;
}

function isTable(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The site once the secret (if any) has been read: profile, then secret, then DD_SITE, then the default. */
export function effectiveSite(config: Config['datadog'], fromSecret: DatadogSite | undefined): DatadogSite {
  return config.site ?? fromSecret ?? config.envSite ?? DEFAULT_SITE;
}

/** The Datadog API base URL for a site, honouring `api_url`/`DD_API_URL`. */
export function datadogBaseUrl(config: Config['datadog'], site: DatadogSite): string {
  return config.apiUrl ?? apiBaseUrl(site);
}

