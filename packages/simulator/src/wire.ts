/**
 * The Datadog wire shapes the simulator produces (components of the OpenAPI subset in
 * openapi/datadog/), typed once for the generators, the handlers and the ground truth.
 */

export type LogsStorageTier = 'indexes' | 'online-archives' | 'flex';
export const LOGS_STORAGE_TIERS: readonly LogsStorageTier[] = ['indexes', 'online-archives', 'flex'];

export type SortOrder = 'timestamp' | '-timestamp';

/** `Log` (v2 logs search). */
export interface LogEvent {
  id: string;
  type: 'log';
  attributes: {
    timestamp: string;
    host: string;
    service: string;
    /** The raw status as the log carried it (`warning`, `emerg`, `ok`, ...). */
    status: string;
    message: string;
    tags: string[];
    /** Custom attributes; trace correlation lives in `dd.trace_id` / `dd.span_id`. */
    attributes: Record<string, unknown>;
  };
}

/** `Span` (v2 spans search). */
export interface SpanEvent {
  id: string;
  type: 'spans';
  attributes: {
    trace_id: string;
    span_id: string;
    /** Absent on root spans. */
    parent_id?: string;
    service: string;
    env: string;
    host: string;
    resource_name: string;
    resource_hash: string;
    type: string;
    start_timestamp: string;
    end_timestamp: string;
    ingestion_reason: string;
    retained_by: string;
    single_span: boolean;
    tags: string[];
    /** `operation_name`, `status` ("ok" | "error") and `span.kind`. */
    attributes: Record<string, unknown>;
    /** `duration` (ns), `http`, `error`, `language`, `db`, `peer`. */
    custom: Record<string, unknown>;
  };
}

/** `MetricsQueryUnit`. */
export interface MetricUnit {
  family: string;
  name: string;
  plural: string;
  short_name: string;
  scale_factor: number;
}

/** `MetricsQueryMetadata`. */
export interface MetricSeries {
  metric: string;
  display_name: string;
  expression: string;
  scope: string;
  tag_set: string[];
  aggr: string | null;
  start: number;
  end: number;
  length: number;
  /** Seconds, as real Datadog sends (the spec's "milliseconds" is wrong). */
  interval: number;
  pointlist: Array<[number, number | null]>;
  unit: [MetricUnit | null, MetricUnit | null];
  query_index: number;
}

/** `MetricsQueryResponse`. */
export interface MetricsQueryResponse {
  status: 'ok';
  res_type: 'time_series';
  query: string;
  from_date: number;
  to_date: number;
  group_by: string[];
  series: MetricSeries[];
  message: string;
}

/** An event with the sort key the pager orders by: (ms, id). */
export interface Timed<T> {
  readonly ms: number;
  readonly id: string;
  readonly event: T;
}

/** Total order of events: by time, then id. */
export function compareTimed(a: { ms: number; id: string }, b: { ms: number; id: string }): number {
  if (a.ms !== b.ms) return a.ms - b.ms;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** `2026-11-25T04:01:02.345Z`. */
export function isoMs(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * An opaque event id in Datadog's style (base64url of a version byte, the timestamp and a
 * sequence number), unique per (ms, slot, seq).
 */
export function eventId(version: number, ms: number, slot: number, seq: number): string {
  const bytes = Buffer.alloc(17);
  bytes.writeUInt8(version, 0);
  bytes.writeBigUInt64BE(BigInt(ms), 1);
  bytes.writeUInt32BE(slot >>> 0, 9);
  bytes.writeUInt32BE(seq >>> 0, 13);
  return bytes.toString('base64url');
}
