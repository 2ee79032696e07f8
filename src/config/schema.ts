import { z } from 'zod';
import { SCOPE_VALUE } from '../datadog/metrics.ts';
import { DATADOG_SITES } from '../datadog/sites.ts';
import { DEFAULT_BODY_TIMEOUT_MS } from '../http/limits.ts';
import { DEFAULT_MAX_EVENT_LOOP_DELAY_MS, DEFAULT_MAX_RSS_BYTES } from '../http/load-shedding.ts';
import { secretsSchema } from '../secrets/schema.ts';
import { formatDuration, parseDuration } from '../time/duration.ts';
import {
  DEFAULT_BURST_FRACTION,
  DEFAULT_MAX_PACED_AGE_MS,
  DEFAULT_MAX_WAIT_MS,
  DEFAULT_RESERVE_FRACTION,
  DEFAULT_RESET_JITTER_MS,
} from '../upstream/budget.ts';
import {
  DEFAULT_CACHE_MAX_BYTES,
  DEFAULT_CACHE_MAX_ENTRIES,
  DEFAULT_IMMUTABLE_TTL_MS,
  DEFAULT_INGESTION_DELAY_MS,
  DEFAULT_MAX_STALE_MS,
} from '../upstream/answer-cache.ts';
import { DEFAULT_MAX_CONCURRENT, DEFAULT_MAX_QUEUED } from '../upstream/concurrency.ts';
import { DEFAULT_UPSTREAM_SHARE } from '../upstream/fair-share.ts';
import { MAX_PAGES_PER_REQUEST } from '../upstream/paging.ts';
import { checkStepTable, DEFAULT_STEPS } from '../time/buckets.ts';
import type { LogLevel } from './env.ts';
import { storeSchema, type StoreFileConfig } from './store.ts';

/**
 * The TOML configuration file (docs/configuration.md#the-configuration-file). Every object is
 * strict: an unknown key is an error, because a typo must never pass silently. `env:NAME`
 * references are resolved before this runs.
 */

/** Roles a key may hold (what each allows: auth/roles.ts). Any other name is a config error. */
export const KNOWN_ROLES = ['viewer', 'oncall', 'sre-lead'] as const;
export type Role = (typeof KNOWN_ROLES)[number];

const duration = (what: string) =>
  z.string().refine((s) => parseDuration(s) !== undefined, {
    message: `${what}: expected a duration such as "15m", "24h" or "7d"`,
  });

/**
 * A service or env a key is scoped to. The value must be writable, unquoted, into a metric
 * scope (`{service:payments-api}`), which has no quoting; Datadog normalizes tag values to these
 * characters anyway.
 */
const scopeValue = z.string().regex(SCOPE_VALUE, 'letters, digits, "_", "-", "." and "/" only (a Datadog tag value)');

/**
 * Requests one key may make per window. Default: 600 a minute, ten a second on average; a
 * dashboard of 20 panels refreshing every 30 s makes 40 a minute, so only a runaway client or
 * a script in a loop reaches it.
 */
export const DEFAULT_QUOTA = { requests: 600, per: '1m' } as const;
/** Shortest and longest quota window: under a second is noise, over a day is a budget, not a quota. */
const QUOTA_WINDOW_MS = { min: 1_000, max: 86_400_000 } as const;

/** `{ requests = 600, per = "1m" }`, or `"off"` for no quota at all. */
export const quotaSchema = z.union([
  z.literal('off'),
  z
    .object({
      requests: z.number().int().min(1, 'at least 1; use quota = "off" for no quota').max(1_000_000),
      per: z.string().refine(
        (s) => {
          const ms = parseDuration(s);
          return ms !== undefined && ms >= QUOTA_WINDOW_MS.min && ms <= QUOTA_WINDOW_MS.max;
        },
        { message: 'expected a window from "1s" to "1d", such as "1m" or "1h"' },
      ),
    })
    .strict(),
]);
export type QuotaConfig = z.infer<typeof quotaSchema>;

/**
 * The most of each Datadog limit one key may spend while another key is active
 * (upstream/fair-share.ts). Above 0, or the key could never call Datadog while dashboards run;
 * 1 lets it spend everything.
 */
const SHARE_MESSAGE = 'expected a share of each Datadog limit above 0 and at most 1, such as 0.5 (half)';
export const upstreamShareSchema = z.number({ error: SHARE_MESSAGE }).gt(0, SHARE_MESSAGE).max(1, SHARE_MESSAGE);

/** One caller key: the SHA-256 of the raw bearer token, never the token itself. */
export const apiKeySchema = z
  .object({
    hash: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, 'expected the SHA-256 hex digest of the token (64 hex characters)')
      .transform((h) => h.toLowerCase()),
    subject: z.string().min(1),
    /** Empty: the key authenticates but may read nothing (403), e.g. while it is being retired. */
    roles: z.array(z.enum(KNOWN_ROLES)),
    services: z.array(scopeValue).min(1).optional(),
    env: scopeValue.optional(),
    /** This key's own quota; `[auth] quota` when absent. */
    quota: quotaSchema.optional(),
    /** This key's own share of the Datadog budget; `[auth] upstream_share` when absent. */
    upstream_share: upstreamShareSchema.optional(),
  })
  .strict();
export type ApiKeyConfig = z.infer<typeof apiKeySchema>;

export const authSchema = z
  .object({
    api_keys: z.array(apiKeySchema).default([]),
    mode: z.enum(['keys', 'none']).default('keys'),
    /** The quota of every key that has none of its own (and of each client IP when mode = "none"). */
    quota: quotaSchema.default(DEFAULT_QUOTA),
    /** The share of each Datadog limit of every key that has none of its own (docs/budget-and-caching.md#fair-share). */
    upstream_share: upstreamShareSchema.default(DEFAULT_UPSTREAM_SHARE),
  })
  .strict();

/** Default end-to-end deadline of one request, upstream included (docs/configuration.md#the-configuration-file). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/**
/**
 * One browser origin allowed to call the API: scheme, host and optional port, nothing else,
 * because browsers send exactly that in `Origin` and it is compared exactly.
 */
const corsOrigin = z
  .string()
  .refine(
    (value) => {
      try {
        const url = new URL(value);
        return (url.protocol === 'https:' || url.protocol === 'http:') && url.pathname === '/' && !url.search && !url.hash && !url.username && !url.password;
      } catch {
        return false;
      }
    },
    { message: 'expected an origin such as "https://grafana.example.com" (scheme, host and optional port; no path)' },
  )
  .transform((value) => new URL(value).origin);

/**
 * Longest SIGTERM waits for in-flight requests before closing their connections. Docker waits
 * 10 s and Kubernetes 30 s before SIGKILL; give the orchestrator a grace period above this.
 */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;

const bytes = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const serverSchema = z
  .object({
    cors_origins: z.array(corsOrigin).default([]),
    request_timeout_ms: z.number().int().min(100).max(600_000).default(DEFAULT_REQUEST_TIMEOUT_MS),
    /** Slow clients (http/limits.ts): the whole request must arrive within it. Under a second would cut real clients. */
    body_timeout_ms: z.number().int().min(1_000).max(600_000).default(DEFAULT_BODY_TIMEOUT_MS),
    /** HMAC key for `next_cursor`; several replicas need it (via env:) or a shared [store] (redis/cursor-keys.ts). */
    cursor_secret: z.string().min(16).optional(),
    /** Load shedding (http/load-shedding.ts); 0 disables a check. The heap default is a share of V8's limit. */
    max_event_loop_delay_ms: z.number().int().min(0).max(60_000).default(DEFAULT_MAX_EVENT_LOOP_DELAY_MS),
    max_heap_used_bytes: bytes.optional(),
    max_rss_bytes: bytes.default(DEFAULT_MAX_RSS_BYTES),
    shutdown_timeout_ms: z.number().int().min(0).max(600_000).default(DEFAULT_SHUTDOWN_TIMEOUT_MS),
  })
  .strict();

/**
 * Longest range a caller may ask for, per signal. Logs and spans: Datadog retains 15 days by
 * default and 30+ days on extended plans; metrics are kept 15 months.
 */
export const DEFAULT_MAX_RANGE = { logs: '31d', traces: '31d', metrics: '455d' } as const;

export const profileSchema = z
  .object({
    backend: z.string(),
    site: z.enum(DATADOG_SITES).optional(),
    api_url: z.url().optional(),
    api_key: z.string().min(1).optional(),
    app_key: z.string().min(1).optional(),
    max_range: z
      .object({
        logs: duration('logs').default(DEFAULT_MAX_RANGE.logs),
        traces: duration('traces').default(DEFAULT_MAX_RANGE.traces),
        metrics: duration('metrics').default(DEFAULT_MAX_RANGE.metrics),
      })
      .strict()
      .default(DEFAULT_MAX_RANGE),
    secrets: secretsSchema.optional(),
  })
  .strict();
export type ProfileConfig = z.infer<typeof profileSchema>;

/** One row of the time-bucket table: ranges up to `up_to` are snapped to `step`. */
export const stepRuleSchema = z.object({ up_to: duration('up_to'), step: duration('step') }).strict();

/** The bucket table as written in the config file (time/buckets.ts has the reasons). */
export const DEFAULT_STEP_ROWS = DEFAULT_STEPS.map((rule) => ({ up_to: formatDuration(rule.upToMs), step: formatDuration(rule.stepMs) }));

/** Most rows of the bucket table: a handful is plenty; the bound keeps the lookup trivial. */
const MAX_STEP_ROWS = 32;

export const upstreamCacheSchema = z
  .object({
    enabled: z.boolean().default(true),
    max_bytes: z
      .number()
      .int()
      .min(1024 * 1024)
      .max(16 * 1024 ** 3)
      .default(DEFAULT_CACHE_MAX_BYTES),
    max_entries: z.number().int().min(1).max(10_000_000).default(DEFAULT_CACHE_MAX_ENTRIES),
    steps: z
      .array(stepRuleSchema)
      .max(MAX_STEP_ROWS)
      .default(DEFAULT_STEP_ROWS)
      .superRefine((rows, ctx) => {
        const table = rows.map((r) => ({ upToMs: parseDuration(r.up_to) ?? 0, stepMs: parseDuration(r.step) ?? 0 }));
        for (const message of checkStepTable(table)) ctx.addIssue({ code: 'custom', message });
      }),
    ingestion_delay: duration('ingestion_delay').default(formatDuration(DEFAULT_INGESTION_DELAY_MS)),
    immutable_ttl: duration('immutable_ttl').default(formatDuration(DEFAULT_IMMUTABLE_TTL_MS)),
    max_stale: duration('max_stale').default(formatDuration(DEFAULT_MAX_STALE_MS)),
  })
  .strict();

export const upstreamBudgetSchema = z
  .object({
    reserve_fraction: z.number().min(0).max(0.9).default(DEFAULT_RESERVE_FRACTION),
    max_wait_ms: z.number().int().min(0).max(60_000).default(DEFAULT_MAX_WAIT_MS),
    reset_jitter_ms: z.number().int().min(0).max(60_000).default(DEFAULT_RESET_JITTER_MS),
    pacing: z.boolean().default(true),
    burst_fraction: z.number().min(0).max(1).default(DEFAULT_BURST_FRACTION),
    max_paced_age: duration('max_paced_age').default(formatDuration(DEFAULT_MAX_PACED_AGE_MS)),
  })
  .strict();

/** `[upstream]`: everything between the routes and Datadog (docs/budget-and-caching.md#configuration-upstream). */
export const upstreamSchema = z
  .object({
    max_concurrent: z.number().int().min(1).max(1024).default(DEFAULT_MAX_CONCURRENT),
    max_queued: z.number().int().min(0).max(100_000).default(DEFAULT_MAX_QUEUED),
    max_pages: z.number().int().min(1).max(100).default(MAX_PAGES_PER_REQUEST),
    cache: upstreamCacheSchema.default(upstreamCacheSchema.parse({})),
    budget: upstreamBudgetSchema.default(upstreamBudgetSchema.parse({})),
  })
  .strict();
export type UpstreamConfig = z.infer<typeof upstreamSchema>;

export const fileSchema = z
  .object({
    active_profile: z.string().min(1).optional(),
    server: serverSchema.default(serverSchema.parse({})),
    upstream: upstreamSchema.default(upstreamSchema.parse({})),
    auth: authSchema.default(authSchema.parse({})),
    /** The shared Redis of several replicas (config/store.ts); absent: state stays in process. */
    store: storeSchema.optional(),
    profiles: z.record(z.string().min(1), profileSchema).default({}),
  })
  .strict();
export type FileConfig = z.infer<typeof fileSchema>;

/**
 * What a configuration that sets nothing means. Every default of the server is assembled here,
 * from the schemas above and the named constants beside the code each one governs (with its
 * reason); config/load.ts applies them and nothing else keeps a fallback copy.
 */

/** `[server]`, `[upstream]` and `[auth]` of an empty file, which is also what no file at all means. */
export const DEFAULT_FILE: FileConfig = fileSchema.parse({});
/** A profile that names only its backend: the environment-only start runs as one. */
export const DEFAULT_PROFILE: ProfileConfig = profileSchema.parse({ backend: 'datadog' });
/** `[store]` with only the connection given (by `TINKR_REDIS_URL`). */
export const DEFAULT_STORE: StoreFileConfig = storeSchema.parse({});

/** Listen address without `--host` or `HOST`: every interface, as a container needs. */
export const DEFAULT_HOST = '0.0.0.0';
/** API port without `--port` or `PORT`. */
export const DEFAULT_PORT = 8000;
/** Prometheus self-metrics port without `TINKR_METRICS_PORT`: the OpenTelemetry Prometheus exporter's. */
export const DEFAULT_METRICS_PORT = 9464;
/** Log level without `TINKR_LOG_LEVEL`: one line per request and the lifecycle, no payloads. */
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';
