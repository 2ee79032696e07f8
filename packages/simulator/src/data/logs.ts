import { baseTags, SERVICE_NAMES, SERVICES, type Env, type ServiceInfo } from './catalog.ts';
import { between, hashInts, pick } from './hash.ts';
import { traceAt, TRACE_PERIOD_MS, type SimSpan, type SimTrace } from './traces.ts';
import { traceVisible } from './spans.ts';
import { compareTimed, eventId, isoMs, type LogEvent, type Timed } from '../wire.ts';

/**
 * Logs as a pure function of time, in the same 10-second slots as traces (data/traces.ts):
 *
 * - trace logs: each server span writes an access log when it ends, failures write an error log,
 *   checkout writes a "started" log; all carry `dd.trace_id`/`dd.span_id` of their span, as
 *   Datadog's log injection does (`attributes.attributes.dd`);
 * - background logs: every service writes AMBIENT_PER_SLOT logs per slot (health checks, cache
 *   stats, slow-query warnings, the odd emergency) with no trace ids.
 *
 * Raw statuses cover everything the gateway normalises: emerg, alert, critical, fatal, error,
 * warn, warning, notice, info, ok, debug, trace. Background statuses follow STATUS_CYCLE, whose
 * prime length makes every service go through every status within a few minutes.
 */

/** Background logs per service per 10 s slot (one every 5 s per service). */
export const AMBIENT_PER_SLOT = 2;
const LOG_ID_VERSION = 1;
/** Numbers in background messages vary over this many values (prime, so templates decorrelate). */
const MESSAGE_VARIANTS = 10_007;
/** Background logs come mostly from prod; one in this many comes from the staging host. */
const STAGING_AMBIENT_EVERY = 10;

/** 47 entries (prime): mostly info/debug/warn/error, each rare status at least once. */
const STATUS_CYCLE: readonly string[] = [
  'info', 'debug', 'info', 'warn', 'info', 'info', 'debug', 'error', 'info', 'notice',
  'info', 'debug', 'info', 'warning', 'info', 'ok', 'info', 'debug', 'warn', 'info',
  'critical', 'info', 'debug', 'info', 'error', 'info', 'trace', 'info', 'debug', 'warn',
  'info', 'alert', 'info', 'debug', 'info', 'error', 'info', 'fatal', 'info', 'debug',
  'warn', 'info', 'emerg', 'info', 'debug', 'info', 'error',
];

interface AmbientMessage {
  message: (n: number) => string;
  attributes?: (n: number) => Record<string, unknown>;
}

const AMBIENT: Readonly<Record<string, readonly AmbientMessage[]>> = {
  emerg: [{ message: () => 'disk /var/lib/app is full; refusing all writes' }],
  alert: [{ message: (n) => `database connection pool exhausted (${50 + (n % 5)}/${50 + (n % 5)} in use)` }],
  critical: [{ message: (n) => `circuit breaker open for upstream "ledger" after ${20 + (n % 10)} consecutive failures` }],
  fatal: [{ message: () => 'unrecoverable error: configuration file /etc/app/config.yaml is invalid, shutting down' }],
  error: [
    {
      message: () => 'failed to publish event to queue: connection reset by peer',
      attributes: () => ({ error: { kind: 'ConnectionResetError', message: 'connection reset by peer' } }),
    },
    {
      message: (n) => `upstream timeout: ledger:8080 did not answer within ${1000 + (n % 4) * 500} ms`,
      attributes: () => ({ error: { kind: 'TimeoutError', message: 'upstream timeout' } }),
    },
  ],
  warn: [
    {
      message: (n) => `slow request detected: ${500 + (n % 700)} ms > 500 ms threshold`,
      attributes: (n) => ({ duration: (500 + (n % 700)) * 1_000_000 }),
    },
    { message: (n) => `retrying connection to redis (attempt ${1 + (n % 4)}/5)` },
  ],
  warning: [{ message: (n) => `TLS certificate for api.internal expires in ${3 + (n % 27)} days` }],
  notice: [{ message: (n) => `configuration reloaded (${1 + (n % 4)} keys changed)` }],
  info: [
    { message: () => 'health check ok' },
    { message: (n) => `processed batch of ${10 + (n % 90)} events in ${20 + (n % 200)} ms` },
    { message: (n) => `cache "sessions" hit ratio 0.${80 + (n % 19)}` },
  ],
  ok: [{ message: () => 'readiness probe ok' }],
  debug: [
    { message: (n) => `cache lookup key=session:${1000 + (n % 9000)} hit=${n % 3 === 0 ? 'false' : 'true'}` },
    { message: (n) => `GC pause ${(n % 50) / 10 + 0.5} ms` },
  ],
  trace: [{ message: (n) => `entering handler with ${1 + (n % 4)} args` }],
};

interface Draft {
  ms: number;
  service: ServiceInfo;
  env: Env;
  host: string;
  status: string;
  message: string;
  attributes: Record<string, unknown>;
}

/** The logs of `slot` that exist at `nowMs`, in (timestamp, id) order. */
export function logsInSlot(slot: number, nowMs: number): Timed<LogEvent>[] {
  // A log's id is its position here, so it must not depend on `nowMs`: the background logs,
  // whose number per slot is fixed, come first, and the trace logs (all at once) after them.
  const drafts: Draft[] = ambientLogs(slot);
  const trace = traceAt(slot);
  // Trace logs appear with the trace, so a log's trace id always resolves to finished spans.
  if (traceVisible(trace, nowMs)) drafts.push(...traceLogs(trace));
  const out: Timed<LogEvent>[] = [];
  drafts.forEach((draft, seq) => {
    if (draft.ms > nowMs) return;
    const event = toLogEvent(draft, slot, seq);
    out.push({ ms: draft.ms, id: event.id, event });
  });
  return out.sort(compareTimed);
}

function toLogEvent(d: Draft, slot: number, seq: number): LogEvent {
  return {
    id: eventId(LOG_ID_VERSION, d.ms, slot, seq),
    type: 'log',
    attributes: {
      timestamp: isoMs(d.ms),
      host: d.host,
      service: d.service.name,
      status: d.status,
      message: d.message,
      tags: [...baseTags(d.service, d.env, d.host), `source:${d.service.source}`],
      attributes: { ...d.attributes, logger: { name: d.service.logger } },
    },
  };
}

function ambientLogs(slot: number): Draft[] {
  const drafts: Draft[] = [];
  SERVICE_NAMES.forEach((name, serviceIndex) => {
    const service = SERVICES[name];
    for (let j = 0; j < AMBIENT_PER_SLOT; j++) {
      const n = slot * SERVICE_NAMES.length * AMBIENT_PER_SLOT + serviceIndex * AMBIENT_PER_SLOT + j;
      const h = hashInts(slot, 100 + serviceIndex, j);
      const status = STATUS_CYCLE[n % STATUS_CYCLE.length]!;
      const env: Env = h % STAGING_AMBIENT_EVERY === 0 ? 'staging' : 'prod';
      const template = pick(hashInts(h, 1), AMBIENT[status]!);
      // Each of the AMBIENT_PER_SLOT logs gets its own sub-slot so they never share a timestamp.
      const width = TRACE_PERIOD_MS / AMBIENT_PER_SLOT;
      drafts.push({
        ms: slot * TRACE_PERIOD_MS + j * width + between(hashInts(h, 2), 0, width - 1),
        service,
        env,
        host: pick(hashInts(h, 3), service.hosts[env]),
        status,
        message: template.message(h % MESSAGE_VARIANTS),
        attributes: template.attributes?.(h % MESSAGE_VARIANTS) ?? {},
      });
    }
  });
  return drafts;
}

function dd(span: SimSpan): Record<string, unknown> {
  return {
    dd: {
      trace_id: span.traceId,
      span_id: span.spanId,
      service: span.service.name,
      env: span.env,
      version: span.service.version[span.env],
    },
  };
}

function httpAttributes(span: SimSpan): Record<string, unknown> {
  if (!span.http) return {};
  const path = new URL(span.http.url).pathname;
  return {
    http: { method: span.http.method, status_code: span.http.statusCode, url: span.http.url, url_details: { path } },
    duration: span.durationMs * 1_000_000,
    network: { client: { ip: `10.0.${span.slot % 4}.${10 + (span.slot % 200)}` } },
  };
}

function accessStatus(code: number): string {
  if (code >= 500) return 'error';
  if (code >= 400) return 'warn';
  return 'info';
}

function traceLogs(trace: SimTrace): Draft[] {
  const drafts: Draft[] = [];
  const end = (s: SimSpan): number => s.startMs + s.durationMs;
  const base = (s: SimSpan): Pick<Draft, 'service' | 'env' | 'host'> => ({ service: s.service, env: s.env, host: s.host });
  for (const span of trace.spans) {
    if (span.kind === 'server' && span.http) {
      drafts.push({
        ...base(span),
        ms: end(span),
        status: accessStatus(span.http.statusCode),
        message: `${span.resource} ${span.http.statusCode} ${span.durationMs}ms`,
        attributes: {
          ...dd(span),
          ...httpAttributes(span),
          ...(span.error ? { error: { kind: span.error.type, message: span.error.message, stack: span.error.stack } } : {}),
        },
      });
    }
    if (span.index === 0 && trace.template === 'checkout') {
      drafts.push({
        ...base(span),
        ms: span.startMs + 1,
        status: 'info',
        message: `checkout started for cart ${4000 + (trace.slot % 1000)}`,
        attributes: { ...dd(span), cart: { id: String(4000 + (trace.slot % 1000)), items: 1 + (trace.slot % 5) } },
      });
    }
    if (span.error && (span.type === 'sql' || span.type === 'redis')) {
      drafts.push({
        ...base(span),
        ms: end(span),
        status: 'error',
        message:
          span.type === 'sql'
            ? `failed to insert ledger entry: ${span.error.message}`
            : `redis GET cart:4711 failed: ${span.error.message}`,
        attributes: { ...dd(span), error: { kind: span.error.type, message: span.error.message, stack: span.error.stack } },
      });
    }
    if (span.type === 'worker') {
      drafts.push({ ...base(span), ms: span.startMs, status: 'info', message: `job started: ${span.resource}`, attributes: dd(span) });
      drafts.push({
        ...base(span),
        ms: end(span),
        status: span.error ? 'error' : 'info',
        message: span.error ? `job failed: ${span.error.message}` : `job finished in ${span.durationMs} ms`,
        attributes: {
          ...dd(span),
          duration: span.durationMs * 1_000_000,
          ...(span.error ? { error: { kind: span.error.type, message: span.error.message, stack: span.error.stack } } : {}),
        },
      });
    }
  }
  return drafts;
}

