/**
 * Datadog's `filter.from` / `filter.to` time expressions: ISO 8601 (an offset or `Z`; without
 * one the time is read as UTC, as Datadog does), epoch milliseconds as a digit string, `now`,
 * and date math `now-15m` / `now+1h` with units s, m, h, d, w.
 */

const UNIT_MS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const DATE_MATH = /^now(?:([+-])(\d{1,9})([smhdw]))?$/;
const EPOCH_MS = /^\d{1,16}$/;
const ISO_8601 = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)(Z|[+-]\d{2}:?\d{2})?)?$/;

/** Epoch ms of a time expression relative to `nowMs`, or undefined when it is not one. */
export function parseTimeExpression(text: string, nowMs: number): number | undefined {
  const math = DATE_MATH.exec(text);
  if (math) {
    if (!math[1]) return nowMs;
    const delta = Number(math[2]) * UNIT_MS[math[3]!]!;
    return math[1] === '-' ? nowMs - delta : nowMs + delta;
  }
  if (EPOCH_MS.test(text)) return Number(text);
  const iso = ISO_8601.exec(text);
  if (!iso) return undefined;
  const [, date, time, offset] = iso;
  // Date.parse rolls 2026-02-31 over to March; a real calendar date must round-trip.
  const day = Date.parse(`${date}T00:00:00Z`);
  if (Number.isNaN(day) || new Date(day).toISOString().slice(0, 10) !== date) return undefined;
  // Date.parse reads a date-time without offset as local time; Datadog means UTC.
  const zone = offset === undefined ? 'Z' : offset.length === 5 ? `${offset.slice(0, 3)}:${offset.slice(3)}` : offset;
  const normalised = time === undefined ? `${date}T00:00:00Z` : `${date}T${time}${zone}`;
  const ms = Date.parse(normalised.replace(/(\.\d{3})\d+/, '$1'));
  return Number.isNaN(ms) ? undefined : ms;
}
