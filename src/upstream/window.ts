import type { TimeRange } from '../time/range.ts';
import type { UpstreamRequest } from './types.ts';

/**
 * Attaches the range to a request for the cache (types.ts `RequestWindow`). `build` is the
 * service's own request builder, so the series of a relative range is the very same request
 * with the range moved to start at the epoch: identical for every bucket of one panel, and
 * still a different key for a different query, length, page size or page.
 */
export function withWindow(range: TimeRange, build: (range: TimeRange) => UpstreamRequest): UpstreamRequest {
  const request = build(range);
  if (!range.relative) return { ...request, window: { fromMs: range.fromMs, toMs: range.toMs } };
  const series = build({ ...range, fromMs: 0, toMs: range.toMs - range.fromMs });
  return { ...request, window: { fromMs: range.fromMs, toMs: range.toMs, series } };
}
