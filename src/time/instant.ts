import { parseDuration } from './duration.ts';

/**
 * One end of a time range as a caller wrote it (docs/http-api.md#time-and-common-parameters): ISO
 * 8601 with an offset, epoch milliseconds, `now`, or `now-15m`. A timestamp without an offset is
 * refused, never guessed: reading it in the server's zone is the classic gateway bug (peers.md,
 * "Time zones").
 */
export type Instant = { kind: 'absolute'; ms: number } | { kind: 'relative'; offsetMs: number };

const ISO_WITH_OFFSET =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})$/i;
const ISO_WITHOUT_OFFSET = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$/;
const EPOCH_MS = /^\d{1,15}$/;
const DATE_MATH = /^now(?:-(\d{1,9}[smhdw]))?$/;

/** Largest instant accepted: 9999-12-31, so every value formats as a four-digit-year ISO string. */
const MAX_EPOCH_MS = 253_402_300_799_999;

/** On failure, `message` says what is wrong and what is allowed, written to follow the parameter's name (`from has no UTC offset; ...`). */
export type InstantParse = { ok: true; instant: Instant } | { ok: false; message: string };

export function parseInstant(text: string): InstantParse {
  const value = text.trim();
  const math = DATE_MATH.exec(value);
  if (math) {
    return { ok: true, instant: { kind: 'relative', offsetMs: math[1] ? parseDuration(math[1])! : 0 } };
  }
  if (EPOCH_MS.test(value)) {
    const ms = Number(value);
    if (ms > MAX_EPOCH_MS) return { ok: false, message: `must be epoch milliseconds up to ${MAX_EPOCH_MS} (the end of the year 9999)` };
    return { ok: true, instant: { kind: 'absolute', ms } };
  }
  const iso = ISO_WITH_OFFSET.exec(value);
  if (iso) {
    const ms = isoToEpochMs(iso);
    if (ms === undefined) return { ok: false, message: `is not a real date-time: ${value}` };
    return { ok: true, instant: { kind: 'absolute', ms } };
  }
  if (ISO_WITHOUT_OFFSET.test(value)) {
    return {
      ok: false,
      message: 'has no UTC offset; add one (e.g. "Z" or "+05:30") or use epoch milliseconds',
    };
  }
  return {
    ok: false,
    message: 'must be ISO 8601 with an offset (2026-11-25T04:00:00Z), epoch milliseconds, now or now-15m (units s m h d w)',
  };
}

function isoToEpochMs(m: RegExpExecArray): number | undefined {
  const [year, month, day, hour, minute] = [m[1], m[2], m[3], m[4], m[5]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const second = m[6] ? Number(m[6]) : 0;
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return undefined;
  const wholeSeconds = Date.UTC(year, month - 1, day, hour, minute, second);
  // Date.UTC rolls 31 February over into March; a real calendar date maps back to itself.
  if (new Date(wholeSeconds).getUTCDate() !== day) return undefined;
  const local = wholeSeconds + millisecondsUp(m[7] ?? '');
  const offset = m[8]!;
  let offsetMs = 0;
  if (offset.toUpperCase() !== 'Z') {
    const sign = offset.startsWith('-') ? -1 : 1;
    const digits = offset.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2, 4));
    if (oh > 23 || om > 59) return undefined;
    offsetMs = sign * (oh * 60 + om) * 60_000;
  }
  const ms = local - offsetMs;
  return ms < 0 || ms > MAX_EPOCH_MS ? undefined : ms;
}

/**
 * The fraction of a second in whole milliseconds, a sub-millisecond rest rounded UP. Datadog
 * stores whole milliseconds, so for a start (`…03.293064`, as the Tinkr CLI sends the newest
 * time it has seen) the first event inside the range is at .294: rounding down to .293 would
 * return the event at .293 again (`tinkr tail` printed its last line twice). For an end, up is
 * right too: an event at .293 lies before `…03.293064` and must stay inside; rounding down would
 * drop it with an exclusive end. Up widens a range by under a millisecond and never narrows it.
 */
function millisecondsUp(fraction: string): number {
  const millis = Number(fraction.slice(0, 3).padEnd(3, '0'));
  return /[1-9]/.test(fraction.slice(3)) ? millis + 1 : millis;
}

/** The absolute time of an instant, given the moment "now" was read. */
export function resolveInstant(instant: Instant, nowMs: number): number {
  return instant.kind === 'absolute' ? instant.ms : nowMs - instant.offsetMs;
}

/** ISO 8601 UTC with milliseconds: the only time format in responses. */
export function isoMs(epochMs: number): string {
  return new Date(epochMs).toISOString();
}
