import { feistel64, unfeistel64 } from './hash.ts';

/**
 * Trace and span ids. Both are keyed bijections of (slot, index) so they look like real random
 * ids yet map back to the 10-second slot that generated them (see data/traces.ts).
 *
 * Trace ids are 64-bit unsigned decimal strings, except every TRACE_128_EVERY-th slot (slot mod 4
 * = 3), whose trace uses a 128-bit id written as 32 lowercase hex characters in Datadog's W3C
 * layout: 8 hex digits of the trace's start second, 8 zeros, then the 64-bit random part.
 * Span ids are always 64-bit unsigned decimal strings.
 */

const TRACE_KEY = 0x7ace0001;
const SPAN_KEY = 0x5a4e0002;

/** One trace in this many carries a 128-bit id (a realistic minority in a mixed fleet). */
export const TRACE_128_EVERY = 4;
const TRACE_128_REMAINDER = 3;

const DECIMAL_ID = /^[0-9]{1,20}$/;
const HEX128_ID = /^[0-9a-f]{32}$/;
const UINT64_MAX = (1n << 64n) - 1n;

export function uses128BitTraceId(slot: number): boolean {
  return slot % TRACE_128_EVERY === TRACE_128_REMAINDER;
}

/** The trace id of the trace generated in `slot`, which starts at `startMs`. */
export function traceIdFor(slot: number, startMs: number): string {
  const low = feistel64(0, slot, TRACE_KEY);
  if (!uses128BitTraceId(slot)) return low.toString(10);
  const seconds = Math.floor(startMs / 1000).toString(16).padStart(8, '0');
  return `${seconds}00000000${low.toString(16).padStart(16, '0')}`;
}

/** The slot a trace id was generated in, or undefined when no generated trace has this id. */
export function slotOfTraceId(traceId: string): number | undefined {
  let low: bigint;
  if (HEX128_ID.test(traceId)) low = BigInt(`0x${traceId.slice(16)}`);
  else if (DECIMAL_ID.test(traceId)) low = BigInt(traceId);
  else return undefined;
  if (low > UINT64_MAX) return undefined;
  const { hi, lo } = unfeistel64(low, TRACE_KEY);
  if (hi !== 0) return undefined;
  // The caller still compares the full id, which also pins the 128-bit prefix and id format.
  return lo;
}

/** The id of span `index` (0 = root) of the trace in `slot`. */
export function spanIdFor(slot: number, index: number): string {
  return feistel64(index + 1, slot, SPAN_KEY).toString(10);
}

/** Where a span id was generated, or undefined when it is not one of ours. */
export function locateSpanId(spanId: string): { slot: number; index: number } | undefined {
  if (!DECIMAL_ID.test(spanId)) return undefined;
  const value = BigInt(spanId);
  if (value > UINT64_MAX) return undefined;
  const { hi, lo } = unfeistel64(value, SPAN_KEY);
  if (hi === 0) return undefined;
  return { slot: lo, index: hi - 1 };
}
