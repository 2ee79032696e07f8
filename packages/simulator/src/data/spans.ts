import { baseTags } from './catalog.ts';
import { hashString } from './hash.ts';
import type { SimSpan, SimTrace } from './traces.ts';
import { eventId, isoMs, type SpanEvent, type Timed } from '../wire.ts';

/**
 * Spans in Datadog's `Span` wire shape. Root spans carry no `parent_id` (the field is omitted,
 * as Datadog does for spans without a parent). Trace/span ids are decimal strings, except the
 * 128-bit trace ids (32 hex characters, see data/ids.ts).
 */

const SPAN_ID_VERSION = 0;
const NS_PER_MS = 1_000_000;

/** A trace becomes searchable once its root span has finished, as with real tracer flushes. */
export function traceVisible(trace: SimTrace, nowMs: number): boolean {
  return trace.endMs <= nowMs;
}

/** The spans of a slot's trace (as served, see source.ts) as wire events, in (start, id) order; empty until it finished. */
export function spansOfTrace(trace: SimTrace, nowMs: number): Timed<SpanEvent>[] {
  if (!traceVisible(trace, nowMs)) return [];
  return trace.spans
    .map((span) => {
      const event = toSpanEvent(span);
      return { ms: span.startMs, id: event.id, event };
    })
    .sort((a, b) => a.ms - b.ms || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export function toSpanEvent(span: SimSpan): SpanEvent {
  const status = span.error ? 'error' : 'ok';
  const http = span.http
    ? { method: span.http.method, status_code: String(span.http.statusCode), url: span.http.url }
    : undefined;
  const custom: Record<string, unknown> = {
    duration: span.durationMs * NS_PER_MS,
    env: span.env,
    version: span.service.version[span.env],
    language: span.service.language,
    span: { kind: span.kind },
  };
  if (http) custom['http'] = http;
  if (span.error) custom['error'] = { type: span.error.type, message: span.error.message, stack: span.error.stack };
  if (span.db) custom['db'] = { system: span.db.system, statement: span.db.statement };
  if (span.peerService) custom['peer'] = { service: span.peerService };
  const attributes: Record<string, unknown> = { operation_name: span.name, status };
  if (http) attributes['http'] = http;
  return {
    id: eventId(SPAN_ID_VERSION, span.startMs, span.slot, span.index),
    type: 'spans',
    attributes: {
      trace_id: span.traceId,
      span_id: span.spanId,
      ...(span.parentId === undefined ? {} : { parent_id: span.parentId }),
      service: span.service.name,
      env: span.env,
      host: span.host,
      resource_name: span.resource,
      resource_hash: hashString(`${span.service.name}|${span.resource}`).toString(16).padStart(8, '0') +
        hashString(`${span.resource}|${span.service.name}`).toString(16).padStart(8, '0'),
      type: span.type,
      start_timestamp: isoMs(span.startMs),
      end_timestamp: isoMs(span.startMs + span.durationMs),
      ingestion_reason: 'rule',
      retained_by: 'retention_filter',
      single_span: false,
      tags: [...baseTags(span.service, span.env, span.host), `language:${span.service.language}`],
      attributes,
      custom,
    },
  };
}
