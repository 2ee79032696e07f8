import { AppError } from '../errors.ts';
import { relayedWarningCode, type Warning } from '../warnings.ts';

/** Small readers for Datadog's JSON, which is loosely typed and often omits fields. */

export type Json = Record<string, unknown>;

export function asObject(value: unknown): Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : {};
}

/** A string, or a number written as one (ids sometimes come as numbers); otherwise undefined. */
export function asString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

export function asStringArray(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** `2026-11-25T04:01:02.345Z`: already what callers get (Datadog's usual form). */
const ISO_UTC_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** A timestamp as ISO 8601 UTC with milliseconds; the raw text when it cannot be read. */
export function isoTimestamp(value: unknown): string | null {
  const text = asString(value);
  if (text === undefined) return null;
  // Most of a search answer's timestamps are in the output form already, where a parse and a
  // format would only give the same text back (or, for an impossible date, fail and give the
  // text as written: the same again).
  if (text.length === 24 && ISO_UTC_MS.test(text)) return text;
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : text;
}

/** The `data` array of a search answer, or an UPSTREAM_ERROR when the answer has another shape. */
export function dataArray(body: unknown, what: string): unknown[] {
  const data = asObject(body).data;
  if (data === undefined) return [];
  if (!Array.isArray(data)) throw new AppError('UPSTREAM_ERROR', `Datadog's ${what} answer has an unexpected shape`);
  return data;
}

/** Paging and completeness facts common to logs and spans search answers. */
export interface PageMeta {
  after: string | undefined;
  /** Datadog stopped searching early (`meta.status: "timeout"`); the page may be incomplete. */
  timedOut: boolean;
  warnings: Warning[];
}

export function readPageMeta(body: unknown): PageMeta {
  const meta = asObject(asObject(body).meta);
  const after = asString(asObject(meta.page).after);
  const warnings = Array.isArray(meta.warnings)
    ? meta.warnings.map((w) => {
        const o = asObject(w);
        const code = asString(o.code) ?? 'upstream_warning';
        const message = [asString(o.title), asString(o.detail)].filter(Boolean).join(': ') || code;
        return { code: relayedWarningCode(code), message: message.slice(0, 500) };
      })
    : [];
  return { after: after && after.length > 0 ? after : undefined, timedOut: meta.status === 'timeout', warnings };
}
