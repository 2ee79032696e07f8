import { AppError, type FieldError } from '../errors.ts';
import { formatDuration, parseDuration } from './duration.ts';
import { parseInstant, resolveInstant, type Instant } from './instant.ts';
import { snapRange, stepFor, type StepTable } from '../time/buckets.ts';

/**
 * The time parameters of every GET query route (docs/http-api.md#time-and-common-parameters), as
 * the caller sent them. Read once, by the route's schema (schemas/common.ts), into an AskedRange.
 */
export interface TimeParams {
  from?: string | undefined;
  to?: string | undefined;
  since?: string | undefined;
}

/** An absolute range in epoch ms. `relative` is true when both ends moved with "now". */
export interface TimeRange {
  fromMs: number;
  toMs: number;
  relative: boolean;
  /** The grid a relative range was snapped to (ms); 0 when it was not snapped (`meta.bucket_s`). */
  stepMs: number;
}

/**
 * The names a caller wrote a range with, for the errors about it: `from`/`to`/`since` on the
 * GET routes, Tinkr's `start`/`end` or one `since`-like field (`since`, `window`) in its bodies.
 */
export interface TimeNames {
  from: string;
  to: string;
  /** Absent where the request has no `since` of its own (Tinkr's `start`/`end`). */
  since?: string;
}

export const TIME_NAMES: TimeNames = { from: 'from', to: 'to', since: 'since' };

/**
 * A range as the caller asked for it: both ends parsed at the edge, the defaults filled in. A
 * relative end (`now-15m`) stays relative: it is read against the clock, and snapped to its
 * bucket, only when the request is answered (resolveTimeSpec).
 */
export interface AskedRange {
  kind: 'instants';
  from: Instant;
  to: Instant;
  /**
   * Where a problem only the resolved range shows (reversed, too long) is reported: the error
   * path (`from`, `body.start`) and the names of the two ends in its message; `from` when absent.
   */
  report?: { path: string; from: string; to: string } | undefined;
}

/**
 * A range as the engine receives it (upstream/answer.ts): as the caller asked for it, or pinned
 * by a cursor to the absolute range of the first page (and the bucket it was snapped to).
 */
export type TimeSpec = AskedRange | { kind: 'pinned'; fromMs: number; toMs: number; stepMs: number };

export interface RangeRules {
  nowMs: number;
  /** Length of the default range when `from` is not given (15 min; 24 h for one trace). */
  defaultSpanMs: number;
  /** The profile's limit for this signal. */
  maxRangeMs: number;
  /** Time buckets for relative ranges (time/buckets.ts); none: relative ranges are not snapped. */
  steps?: StepTable | undefined;
}

/** Turns from/to/since into an absolute range, or throws BAD_REQUEST listing every problem. */
export function resolveRange(params: TimeParams, rules: RangeRules): TimeRange {
  const parsed = parseTimeSpec(params, rules.defaultSpanMs);
  if (!parsed.ok) throw invalid(parsed.problems);
  return resolveTimeSpec(parsed.spec, rules);
}

export type TimeSpecParse = { ok: true; spec: AskedRange } | { ok: false; problems: FieldError[] };

/**
 * Reads from/to/since into instants (the defaults filled in), or lists every problem with how
 * they are written, each under the name the caller used (`names`). Whether they make a usable
 * range is decided when the range is resolved. `reportAt` is the path of that later problem
 * (`from`; `body.start` for a Tinkr body).
 */
export function parseTimeSpec(params: TimeParams, defaultSpanMs: number, names: TimeNames = TIME_NAMES, reportAt: string = names.from): TimeSpecParse {
  const problems: FieldError[] = [];
  const read = (name: string, text: string | undefined, fallback: Instant): Instant => {
    if (text === undefined || text === '') return fallback;
    const parsed = parseInstant(text);
    if (parsed.ok) return parsed.instant;
    problems.push({ path: name, message: `${name} ${parsed.message}` });
    return fallback;
  };

  let from: Instant = { kind: 'relative', offsetMs: defaultSpanMs };
  let to: Instant = NOW;
  if (params.since !== undefined && params.since !== '') {
    const since = names.since ?? 'since';
    if (params.from || params.to) {
      problems.push({
        path: since,
        message: `${since} is shorthand for ${names.from}=now-<${since}>&${names.to}=now; do not combine it with ${names.from} or ${names.to}`,
      });
    }
    const spanMs = parseDuration(params.since);
    if (spanMs === undefined || spanMs === 0) {
      problems.push({ path: since, message: `${since} must be a positive duration such as 15m, 1h or 7d (units s m h d w)` });
    } else {
      from = { kind: 'relative', offsetMs: spanMs };
    }
  } else {
    from = read(names.from, params.from, from);
    to = read(names.to, params.to, to);
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, spec: { kind: 'instants', from, to, report: { path: reportAt, from: names.from, to: names.to } } };
}

const NOW: Instant = { kind: 'relative', offsetMs: 0 };

/**
 * The absolute range of a spec at `nowMs`: checked against the rules (BAD_REQUEST otherwise)
 * and, when both ends move with "now", snapped forward onto the step grid. A pinned range is
 * taken as it is: its cursor was checked when it was issued.
 */
export function resolveTimeSpec(spec: TimeSpec, rules: Omit<RangeRules, 'defaultSpanMs'>): TimeRange {
  if (spec.kind === 'pinned') return { fromMs: spec.fromMs, toMs: spec.toMs, relative: false, stepMs: spec.stepMs };
  const { from, to } = spec;
  const fromMs = resolveInstant(from, rules.nowMs);
  const toMs = resolveInstant(to, rules.nowMs);
  const report = spec.report ?? { path: 'from', from: 'from', to: 'to' };
  if (fromMs >= toMs) {
    throw invalid([{ path: report.path, message: `${report.from} must be before ${report.to}` }]);
  }
  if (toMs - fromMs > rules.maxRangeMs) {
    throw invalid([
      { path: report.path, message: `the range is longer than this profile allows (${formatDuration(rules.maxRangeMs)})` },
    ]);
  }
  const relative = from.kind === 'relative' && to.kind === 'relative';
  const stepMs = relative && rules.steps ? stepFor(toMs - fromMs, rules.steps) : 0;
  // Both ends move together, so the length (checked above) is unchanged.
  return { ...snapRange(fromMs, toMs, stepMs), relative, stepMs };
}

/**
 * A short text naming what a spec asks for, equal for equal meanings however they were written
 * (`since=15m`, `from=now-15m` and the default are one range): part of cache keys and cursor
 * fingerprints, which must not split one panel over spellings.
 */
export function timeSpecKey(spec: TimeSpec): string {
  if (spec.kind === 'pinned') return `p${spec.fromMs}:${spec.toMs}:${spec.stepMs}`;
  const end = (instant: Instant) => (instant.kind === 'relative' ? `r${instant.offsetMs}` : `a${instant.ms}`);
  return `${end(spec.from)}:${end(spec.to)}`;
}

function invalid(errors: FieldError[]): AppError {
  return new AppError('BAD_REQUEST', errors.map((e) => `${e.path}: ${e.message}`).join('; '), { errors });
}
