import type { LogsStorageTier } from '../wire.ts';

/**
 * Where simulated logs live. All logs are in the one index `main`. Storage tiers see the same
 * events over different windows, like a real org with 15-day indexes, Flex and archives:
 *
 * | tier              | holds events with timestamp in           |
 * |-------------------|------------------------------------------|
 * | `indexes`         | [now − 15 d, now]                        |
 * | `flex`            | [now − 30 d, now]                        |
 * | `online-archives` | [now − 30 d, now − 24 h] (older ones only) |
 */

export const LOG_INDEXES: readonly string[] = ['main'];
export const INDEX_RETENTION_MS = 15 * 86_400_000;
export const FLEX_RETENTION_MS = 30 * 86_400_000;
export const ARCHIVE_RETENTION_MS = 30 * 86_400_000;
/** Logs reach online archives after a day, so recent logs are only in indexes and Flex. */
export const ARCHIVE_MIN_AGE_MS = 86_400_000;
/** Indexed spans are kept 15 days. */
export const SPANS_RETENTION_MS = 15 * 86_400_000;

export const UNKNOWN_INDEX_TITLE = 'One or several indexes are missing or invalid, results hold data from the other indexes';

/** The part of [fromMs, toMs) a tier holds at `nowMs`. */
export function tierWindow(tier: LogsStorageTier, fromMs: number, toMs: number, nowMs: number): { fromMs: number; toMs: number } {
  switch (tier) {
    case 'indexes':
      return { fromMs: Math.max(fromMs, nowMs - INDEX_RETENTION_MS), toMs };
    case 'flex':
      return { fromMs: Math.max(fromMs, nowMs - FLEX_RETENTION_MS), toMs };
    case 'online-archives':
      return { fromMs: Math.max(fromMs, nowMs - ARCHIVE_RETENTION_MS), toMs: Math.min(toMs, nowMs - ARCHIVE_MIN_AGE_MS + 1) };
  }
}

/** Which requested indexes exist; `*` means all of them. */
export function resolveIndexes(requested: readonly string[]): { searched: string[]; unknown: string[] } {
  if (requested.length === 0 || requested.includes('*')) return { searched: [...LOG_INDEXES], unknown: [] };
  return {
    searched: requested.filter((i) => LOG_INDEXES.includes(i)),
    unknown: requested.filter((i) => !LOG_INDEXES.includes(i)),
  };
}
