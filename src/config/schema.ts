import { z } from 'zod';
import { DATADOG_SITES } from '../datadog/sites.ts';
import { DEFAULT_MAX_EVENT_LOOP_DELAY_MS, DEFAULT_MAX_RSS_BYTES } from '../http/load-shedding.ts';
import { secretsSchema } from '../secrets/schema.ts';
import { parseDuration } from '../time/duration.ts';

/**
 * The TOML configuration file (DESIGN §3). Every object is strict: an unknown key is an error,
 * because a typo must never pass silently. `env:NAME` references are resolved before this runs.
 */

export const KNOWN_ROLES = ['viewer', 'oncall', 'sre-lead'] as const;
export type Role = (typeof KNOWN_ROLES)[number];

const duration = (what: string) =>
  z.string().refine((s) => parseDuration(s) !== undefined, {
    message: `${what}: expected a duration such as "15m", "24h" or "7d"`,
  });

/** One caller key: the SHA-256 of the raw bearer token, never the token itself. */
export const apiKeySchema = z
  .object({
    hash: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, 'expected the SHA-256 hex digest of the token (64 hex characters)')
      .transform((h) => h.toLowerCase()),
    subject: z.string().min(1),
    roles: z.array(z.enum(KNOWN_ROLES)).min(1),
    services: z.array(z.string().min(1)).min(1).optional(),
    env: z.string().min(1).optional(),
  })
  .strict();
export type ApiKeyConfig = z.infer<typeof apiKeySchema>;

export const authSchema = z
  .object({
    api_keys: z.array(apiKeySchema).default([]),
    mode: z.enum(['keys', 'none']).default('keys'),
  })
  .strict();

/** Default end-to-end deadline of one request, upstream included (DESIGN §3). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/**
 * Longest SIGTERM waits for in-flight requests before closing their connections. Docker waits
 * 10 s and Kubernetes 30 s before SIGKILL; give the orchestrator a grace period above this.
 */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;

const bytes = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const serverSchema = z
  .object({
    cors_origins: z.array(z.url()).default([]),
    request_timeout_ms: z.number().int().min(100).max(600_000).default(DEFAULT_REQUEST_TIMEOUT_MS),
    /** HMAC key for `next_cursor`; set it (via env:) when several replicas share a load balancer. */
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

export const fileSchema = z
  .object({
    active_profile: z.string().min(1).optional(),
    server: serverSchema.default(serverSchema.parse({})),
    auth: authSchema.default(authSchema.parse({})),
    profiles: z.record(z.string().min(1), profileSchema).default({}),
  })
  .strict();
export type FileConfig = z.infer<typeof fileSchema>;
