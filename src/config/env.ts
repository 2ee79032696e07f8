import { z } from 'zod';
import { DATADOG_SITES } from '../datadog/sites.ts';
import { redisUrlSchema } from './store.ts';

/**
 * Every environment variable the server itself reads (the cloud SDKs read their own). Parsed
 * once in main.ts; nothing else touches process.env. Empty values count as unset.
 */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), schema.optional());

const port = z.coerce.number().int().min(0).max(65_535);

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const envSchema = z.object({
  TINKR_BACKEND: optional(z.string()),
  TINKR_CONFIG: optional(z.string()),
  TINKR_PROFILE: optional(z.string()),
  /** JSON array of `{hash, subject, roles, services?, env?}`, added to `[auth] api_keys`. */
  TINKR_API_KEYS: optional(z.string()),
  TINKR_METRICS_PORT: optional(port),
  TINKR_LOG_LEVEL: optional(z.enum(LOG_LEVELS)),
  /** Overrides `[server] cursor_secret`. */
  TINKR_CURSOR_SECRET: optional(z.string().min(16, 'must be at least 16 characters')),
  /** The shared Redis of several replicas; overrides `[store] url`. May hold a password. */
  TINKR_REDIS_URL: optional(redisUrlSchema),
  HOST: optional(z.string()),
  PORT: optional(port),
  DD_API_KEY: optional(z.string()),
  DD_APP_KEY: optional(z.string()),
  DD_SITE: optional(z.enum(DATADOG_SITES, { message: `expected one of ${DATADOG_SITES.join(', ')}` })),
  DD_API_URL: optional(z.url({ protocol: /^https?$/ })),
});

export type Env = z.infer<typeof envSchema>;
