import { z } from 'zod';
import { parseDuration } from '../time/duration.ts';

/** Default bound on the whole secret fetch at boot (DESIGN §3), whatever the SDK's own retries. */
export const DEFAULT_SECRETS_TIMEOUT_MS = 15_000;

const durationString = z
  .string()
  .refine((s) => parseDuration(s) !== undefined, { message: 'expected a duration such as "15m", "1h" or "1d"' });

/** `[profiles.NAME.secrets]` (DESIGN §3). Provider-specific rules are checked in refine below. */
export const secretsSchema = z
  .object({
    provider: z.enum(['env', 'aws', 'gcp', 'azure']).default('env'),
    /** One JSON secret `{"DD_API_KEY","DD_APP_KEY","DD_SITE"?}`. */
    secret: z.string().min(1).optional(),
    /** One plaintext secret per key. */
    keys: z
      .object({
        DD_API_KEY: z.string().min(1),
        DD_APP_KEY: z.string().min(1),
        DD_SITE: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    region: z.string().min(1).optional(),
    project: z.string().min(1).optional(),
    vault_url: z.string().min(1).optional(),
    version: z.string().min(1).optional(),
    /** Emulator/test override of the provider's API endpoint. */
    endpoint: z.url().optional(),
    /** GCP only: REST (default, the tested path) or gRPC. */
    transport: z.enum(['rest', 'grpc']).default('rest'),
    timeout_ms: z.number().int().min(100).max(600_000).default(DEFAULT_SECRETS_TIMEOUT_MS),
    /** Re-read the secrets this often (e.g. "1h"); off when absent. */
    refresh_interval: durationString.optional(),
  })
  .strict();

export type SecretsConfig = z.infer<typeof secretsSchema>;
