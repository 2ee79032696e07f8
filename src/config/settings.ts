import type { LoadSheddingOptions } from '../http/load-shedding.ts';
import { parseDuration } from '../time/duration.ts';
import type { UpstreamPolicy } from '../upstream/pipeline.ts';
import { DEFAULT_FILE, DEFAULT_PROFILE, type FileConfig, type ProfileConfig, type QuotaConfig, type UpstreamConfig } from './schema.ts';

/**
 * The settings of the file and the profile in the units the server takes (milliseconds, the
 * pipeline's policy), converted once; with DEFAULT_FILE and DEFAULT_PROFILE (config/schema.ts)
 * they are the defaults, DEFAULT_SETTINGS. config/load.ts adds what comes from the environment.
 */

/** `[server]` in the units the server takes. */
export interface ServerSettings {
  corsOrigins: string[];
  requestTimeoutMs: number;
  /** The whole request (head and body) must arrive within it; past it the connection is closed. */
  bodyTimeoutMs: number;
  cursorSecret: string | undefined;
  loadShedding: LoadSheddingOptions;
  /** How long SIGTERM waits for in-flight requests. */
  shutdownTimeoutMs: number;
}

/** What the file and the profile set that has a default, in the units the server takes. */
export interface Settings {
  server: ServerSettings;
  auth: { mode: 'keys' | 'none'; quota: QuotaConfig; upstreamShare: number };
  maxRangeMs: { logs: number; traces: number; metrics: number };
  upstream: UpstreamPolicy;
}

/** `[server]`, `[auth]`, `[upstream]` and the profile's `max_range`, converted once. */
export function settingsOf(file: FileConfig, profile: ProfileConfig): Settings {
  const { server } = file;
  return {
    server: {
      corsOrigins: server.cors_origins,
      requestTimeoutMs: server.request_timeout_ms,
      bodyTimeoutMs: server.body_timeout_ms,
      cursorSecret: server.cursor_secret,
      loadShedding: {
        maxEventLoopDelayMs: server.max_event_loop_delay_ms,
        maxHeapUsedBytes: server.max_heap_used_bytes,
        maxRssBytes: server.max_rss_bytes,
      },
      shutdownTimeoutMs: server.shutdown_timeout_ms,
    },
    auth: { mode: file.auth.mode, quota: file.auth.quota, upstreamShare: file.auth.upstream_share },
    maxRangeMs: {
      logs: parseDuration(profile.max_range.logs)!,
      traces: parseDuration(profile.max_range.traces)!,
      metrics: parseDuration(profile.max_range.metrics)!,
    },
    upstream: upstreamPolicy(file.upstream),
  };
}

/**
 * The settings of a configuration that sets nothing (config/schema.ts assembles the defaults):
 * for what is built without a configuration, the OpenAPI document and the tests' servers.
 */
export const DEFAULT_SETTINGS: Settings = settingsOf(DEFAULT_FILE, DEFAULT_PROFILE);

/** `[upstream]` with durations in ms, as the pipeline takes it. */
export function upstreamPolicy(config: UpstreamConfig): UpstreamPolicy {
  const ms = (text: string) => parseDuration(text)!;
  return {
    cache: {
      enabled: config.cache.enabled,
      steps: config.cache.steps.map((row) => ({ upToMs: ms(row.up_to), stepMs: ms(row.step) })),
      ingestionDelayMs: ms(config.cache.ingestion_delay),
      immutableTtlMs: ms(config.cache.immutable_ttl),
      maxStaleMs: ms(config.cache.max_stale),
      maxBytes: config.cache.max_bytes,
      maxEntries: config.cache.max_entries,
    },
    budget: {
      reserveFraction: config.budget.reserve_fraction,
      maxWaitMs: config.budget.max_wait_ms,
      resetJitterMs: config.budget.reset_jitter_ms,
      pacing: config.budget.pacing,
      burstFraction: config.budget.burst_fraction,
      maxPacedAgeMs: ms(config.budget.max_paced_age),
    },
    concurrency: { maxActive: config.max_concurrent, maxQueued: config.max_queued },
    maxPages: config.max_pages,
  };
}
