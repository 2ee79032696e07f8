import type { LogRecord } from '../datadog/logs.ts';

/**
 * The `log_summary` of an anomaly, in the shape of Tinkr's `LogSummarizer` (tinkr.md §1.3): the
 * window's error messages folded into patterns (variable parts such as numbers, ids, addresses
 * and paths replaced by placeholders), each with its count and one example, plus stack traces,
 * when the errors happened and the tags most of them share.
 *
 * `total_count` is the exact number of error logs in the window (from the aggregate); the
 * patterns are counted over the logs read (`sample_count`, at most one page), which is all of
 * them unless the window holds more.
 */

/** A type alias (not an interface) so it is a plain record to the response schema. */
export type LogSummary = {
  total_count: number;
  unique_pattern_count: number;
  window_minutes: number;
  unique_patterns: Array<{ template: string; count: number; example: string }>;
  stack_traces: Array<{ language: string; signature: string; full_trace: string; count: number }>;
  time_distribution: { first_seen: string | null; last_seen: string | null; peak_minute: string | null };
  common_fields: Record<string, string>;
  /** Logs the patterns were counted over. */
  sample_count: number;
};

/** As Tinkr: the ten most frequent patterns, five stack traces, 200 characters of example. */
export const MAX_PATTERNS = 10;
export const MAX_STACK_TRACES = 5;
const MAX_EXAMPLE_CHARS = 200;
const MAX_TRACE_LINES = 30;
/** A tag is common when this share of the logs carries it (and at least two do). */
const COMMON_SHARE = 0.6;
/** Longer tag values are ids, not a shared field worth showing. */
const MAX_COMMON_VALUE = 50;

/** Variable parts, most specific first: each becomes a placeholder so messages fold together. */
const VARIABLE_PARTS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<uuid>'],
  [/\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?/g, '<ts>'],
  [/\b\d{10,13}\b/g, '<ts>'],
  [/\b[0-9a-f]{12,}\b/gi, '<hex>'],
  [/\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b/g, '<ip>'],
  [/(?:\/[\w.-]+){2,}/g, '<path>'],
  [/"[^"\n]{12,}"/g, '"<str>"'],
  [/\b\d+(?:\.\d+)?\b/g, '<n>'],
];

/** `upstream 10.0.3.7:8443 refused after 3 retries` → `upstream <ip> refused after <n> retries`. */
export function messageTemplate(message: string): string {
  let text = message;
  for (const [pattern, placeholder] of VARIABLE_PARTS) text = text.replace(pattern, placeholder);
  return text.replace(/\s+/g, ' ').trim();
}

export function summarizeLogs(logs: readonly LogRecord[], totalCount: number, windowMinutes: number): LogSummary {
  const patterns = new Map<string, { count: number; example: string }>();
  const traces = new Map<string, { language: string; signature: string; full_trace: string; count: number }>();
  const perMinute = new Map<string, number>();
  const tagCounts = new Map<string, number>();
  const times: string[] = [];

  for (const log of logs) {
    const message = log.message ?? '';
    const template = messageTemplate(message);
    const pattern = patterns.get(template);
    if (pattern) pattern.count++;
    else patterns.set(template, { count: 1, example: message.slice(0, MAX_EXAMPLE_CHARS) });

    const trace = stackOf(log);
    if (trace) {
      const known = traces.get(trace.signature);
      if (known) known.count++;
      else traces.set(trace.signature, { ...trace, count: 1 });
    }
    if (log.timestamp) {
      times.push(log.timestamp);
      const minute = `${log.timestamp.slice(0, 16)}:00Z`;
      perMinute.set(minute, (perMinute.get(minute) ?? 0) + 1);
    }
    for (const tag of new Set(log.tags)) tagCounts.set(tag, (tagCounts.get(tag) ?? 0) + 1);
  }

  times.sort();
  const needed = Math.max(2, Math.floor(logs.length * COMMON_SHARE));
  const common: Record<string, string> = {};
  for (const [tag, count] of tagCounts) {
    const colon = tag.indexOf(':');
    if (count < needed || colon <= 0) continue;
    const value = tag.slice(colon + 1);
    if (value !== '' && value.length < MAX_COMMON_VALUE) common[tag.slice(0, colon)] = value;
  }
  return {
    total_count: totalCount,
    unique_pattern_count: patterns.size,
    window_minutes: windowMinutes,
    unique_patterns: top([...patterns.entries()].map(([template, p]) => ({ template, ...p })), MAX_PATTERNS),
    stack_traces: top([...traces.values()], MAX_STACK_TRACES),
    time_distribution: {
      first_seen: times[0] ?? null,
      last_seen: times.at(-1) ?? null,
      peak_minute: [...perMinute.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]?.[0] ?? null,
    },
    common_fields: common,
    sample_count: logs.length,
  };
}

/** Most frequent first; ties keep first-seen order (the sort is stable). */
function top<T extends { count: number }>(items: T[], n: number): T[] {
  return items.sort((a, b) => b.count - a.count).slice(0, n);
}

/** A stack trace the log carries in `error.stack` (Datadog's standard attribute), if any. */
function stackOf(log: LogRecord): { language: string; signature: string; full_trace: string } | undefined {
  const error = log.attributes['error'];
  const stack = error && typeof error === 'object' ? (error as Record<string, unknown>)['stack'] : undefined;
  if (typeof stack !== 'string' || stack.trim() === '') return undefined;
  const lines = stack.split('\n');
  const headline = lines.find((line) => /(?:Error|Exception|panic)[\w.]*:/.test(line)) ?? lines[0]!;
  const frame = lines.find((line) => /^\s+(?:at |File ")|^\t/.test(line));
  const signature = [messageTemplate(headline).slice(0, 120), frame?.trim().slice(0, 80)].filter(Boolean).join(' | ');
  const language = tagValue(log.tags, 'source') ?? tagValue(log.tags, 'language') ?? 'unknown';
  const shown = lines.slice(0, MAX_TRACE_LINES);
  if (lines.length > MAX_TRACE_LINES) shown.push(`... (${lines.length - MAX_TRACE_LINES} more lines)`);
  return { language, signature, full_trace: shown.join('\n') };
}

function tagValue(tags: readonly string[], key: string): string | undefined {
  const tag = tags.find((t) => t.startsWith(`${key}:`));
  return tag?.slice(key.length + 1);
}
