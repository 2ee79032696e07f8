import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseBurst, type ErrorBurst } from './data/bursts.ts';
import { parseLatencyBurst, type LatencyBurst } from './data/latency-bursts.ts';
import { parseFault, type Fault } from './faults.ts';
import { BodyTooLarge, parseBody, readBody, send } from './http/io.ts';
import { apiError, ENDPOINTS, JSON_TYPE, type Endpoint, type Reply } from './http/reply.ts';
import { checkKeys, type ApiKeys } from './keys.ts';
import { RATE_LIMIT_NAMES, type RateLimit } from './rate-limits.ts';
import type { RecordedEndpoint, RecordedRequest } from './recorder.ts';
import type { SampleTraceOptions } from './truth.ts';

/**
 * Loopback control endpoints under `/_sim/` (a prefix no Datadog API uses), so processes that
 * did not start the simulator (the demo, docker compose, the benchmark) can drive it:
 *
 *   GET    /_sim/health                 {"status":"ok"}
 *   GET    /_sim/stats                  call counts per endpoint, recorded/invalid requests, pending faults
 *   GET    /_sim/requests?limit=N       the last N recorded requests (keys redacted)
 *   DELETE /_sim/requests               forget recorded requests and counts
 *   GET    /_sim/faults                 pending faults
 *   POST   /_sim/faults                 arm a fault or an array of faults (see faults.ts) → 201
 *   DELETE /_sim/faults                 disarm all
 *   GET    /_sim/bursts                 armed error bursts
 *   POST   /_sim/bursts                 arm an error burst or an array of them (see data/bursts.ts) → 201
 *   DELETE /_sim/bursts                 disarm all
 *   GET    /_sim/latency-bursts         armed latency bursts
 *   POST   /_sim/latency-bursts         arm a latency burst or an array of them (see data/latency-bursts.ts) → 201
 *   DELETE /_sim/latency-bursts         disarm all
 *   POST   /_sim/keys                   {"apiKey","appKey"}: accept this key pair from now on
 *   GET    /_sim/rate-limits            the limits per endpoint family
 *   PUT    /_sim/rate-limits            {"logs"?:{"limit","periodS"}, "spans"?:…, "logs_aggregate"?:…, …}
 *   POST   /_sim/rate-limits/exhaust    {"endpoint", "apiKey"?}: spend the current period's budget
 *   DELETE /_sim/rate-limits            forget all spending
 *   GET    /_sim/sample-trace?at=&template=&error=&hex128=&env=   {"trace_id"} of a finished trace
 *
 * They are unauthenticated: the simulator is meant to listen on loopback only.
 */

export interface ControlTarget {
  counts(): Record<RecordedEndpoint | 'total', number>;
  requests(): readonly RecordedRequest[];
  invalidCount(): number;
  resetRequests(): void;
  faults: { add(f: Fault): void; clear(): void; pending(): Fault[] };
  bursts: { add(b: ErrorBurst): void; clear(): void; list(): ErrorBurst[] };
  latencyBursts: { add(b: LatencyBurst): void; clear(): void; list(): LatencyBurst[] };
  setKeys(keys: ApiKeys): void;
  currentApiKey(): string;
  rateLimit: {
    get(endpoint: Endpoint): RateLimit;
    set(endpoint: Endpoint, limit: RateLimit): void;
    exhaust(endpoint: Endpoint, apiKey?: string): void;
    reset(): void;
  };
  sampleTraceId(atMs: number | undefined, options: SampleTraceOptions): string;
}

/** Recorded requests returned by default and at most by GET /_sim/requests. */
const DEFAULT_REQUEST_LISTING = 100;
const MAX_REQUEST_LISTING = 10_000;
const SECRET_HEADERS = new Set(['dd-api-key', 'dd-application-key', 'authorization']);

const ok = (body: unknown, status = 200): Reply => ({ status, body, contentType: JSON_TYPE });
const noContent = (): Reply => ({ status: 204, body: '', contentType: JSON_TYPE });

export async function handleControl(target: ControlTarget, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  let body: unknown;
  try {
    const parsed = parseBody(await readBody(req));
    if (!parsed.json) {
      send(res, apiError(400, 'request body is not JSON'));
      return;
    }
    body = parsed.value;
  } catch (error) {
    if (error instanceof BodyTooLarge) {
      send(res, apiError(413, error.message));
      return;
    }
    throw error;
  }
  let reply: Reply;
  try {
    reply = route(target, `${req.method} ${url.pathname}`, url, body);
  } catch (error) {
    reply = error instanceof TypeError || error instanceof RangeError ? apiError(400, error.message) : apiError(500, 'Internal Server Error');
  }
  if (reply.status === 204) {
    res.writeHead(204).end();
    return;
  }
  send(res, reply);
}

function route(target: ControlTarget, key: string, url: URL, body: unknown): Reply {
  switch (key) {
    case 'GET /_sim/health':
      return ok({ status: 'ok' });
    case 'GET /_sim/stats':
      return ok({
        calls: target.counts(),
        recorded: target.requests().length,
        invalid: target.invalidCount(),
        pending_faults: target.faults.pending().length,
      });
    case 'GET /_sim/requests': {
      const limit = Math.min(Number(url.searchParams.get('limit') ?? DEFAULT_REQUEST_LISTING) || DEFAULT_REQUEST_LISTING, MAX_REQUEST_LISTING);
      return ok({ requests: target.requests().slice(-limit).map(redact) });
    }
    case 'DELETE /_sim/requests':
      target.resetRequests();
      return noContent();
    case 'GET /_sim/faults':
      return ok({ faults: target.faults.pending() });
    case 'POST /_sim/faults': {
      const faults = (Array.isArray(body) ? body : [body]).map(parseFault);
      for (const fault of faults) target.faults.add(fault);
      return ok({ pending: target.faults.pending().length }, 201);
    }
    case 'DELETE /_sim/faults':
      target.faults.clear();
      return noContent();
    case 'GET /_sim/bursts':
      return ok({ bursts: target.bursts.list() });
    case 'POST /_sim/bursts': {
      const bursts = (Array.isArray(body) ? body : [body]).map(parseBurst);
      for (const burst of bursts) target.bursts.add(burst);
      return ok({ armed: target.bursts.list().length }, 201);
    }
    case 'DELETE /_sim/bursts':
      target.bursts.clear();
      return noContent();
    case 'GET /_sim/latency-bursts':
      return ok({ bursts: target.latencyBursts.list() });
    case 'POST /_sim/latency-bursts': {
      const bursts = (Array.isArray(body) ? body : [body]).map(parseLatencyBurst);
      for (const burst of bursts) target.latencyBursts.add(burst);
      return ok({ armed: target.latencyBursts.list().length }, 201);
    }
    case 'DELETE /_sim/latency-bursts':
      target.latencyBursts.clear();
      return noContent();
    case 'POST /_sim/keys':
      target.setKeys(checkKeys(body));
      return noContent();
    case 'GET /_sim/rate-limits':
      return ok(Object.fromEntries(ENDPOINTS.map((e) => [e, { ...target.rateLimit.get(e), name: RATE_LIMIT_NAMES[e] }])));
    case 'PUT /_sim/rate-limits':
    case 'POST /_sim/rate-limits': {
      if (typeof body !== 'object' || body === null) throw new TypeError('expected {"logs"?: {"limit", "periodS"}, ...}');
      for (const [name, limit] of Object.entries(body)) {
        if (!(ENDPOINTS as readonly string[]).includes(name)) throw new TypeError(`unknown endpoint family "${name}"`);
        const l = limit as Record<string, unknown> | null;
        target.rateLimit.set(name as Endpoint, { limit: l?.['limit'] as number, periodS: l?.['periodS'] as number });
      }
      return noContent();
    }
    case 'POST /_sim/rate-limits/exhaust': {
      const b = (body ?? {}) as Record<string, unknown>;
      const endpoint = b['endpoint'];
      if (!(ENDPOINTS as readonly unknown[]).includes(endpoint)) throw new TypeError(`endpoint must be one of ${ENDPOINTS.join(', ')}`);
      const apiKey = b['apiKey'];
      if (apiKey !== undefined && typeof apiKey !== 'string') throw new TypeError('apiKey must be a string');
      target.rateLimit.exhaust(endpoint as Endpoint, apiKey ?? target.currentApiKey());
      return noContent();
    }
    case 'DELETE /_sim/rate-limits':
      target.rateLimit.reset();
      return noContent();
    case 'GET /_sim/sample-trace': {
      const p = url.searchParams;
      const at = p.get('at');
      if (at !== null && !/^\d+$/.test(at)) throw new TypeError('at must be epoch milliseconds');
      const options: SampleTraceOptions = {};
      const template = p.get('template');
      if (template === 'checkout' || template === 'cart' || template === 'refund' || template === 'batch') options.template = template;
      else if (template !== null) throw new TypeError('template must be checkout, cart, refund or batch');
      const flag = (name: string): boolean | undefined => (p.get(name) === null ? undefined : p.get(name) === 'true');
      const error = flag('error');
      if (error !== undefined) options.error = error;
      const hex128 = flag('hex128');
      if (hex128 !== undefined) options.hex128 = hex128;
      const env = p.get('env');
      if (env === 'prod' || env === 'staging') options.env = env;
      else if (env !== null) throw new TypeError('env must be prod or staging');
      return ok({ trace_id: target.sampleTraceId(at === null ? undefined : Number(at), options) });
    }
    default:
      return apiError(404, 'Not found');
  }
}

function redact(request: RecordedRequest): RecordedRequest {
  const headers = Object.fromEntries(
    Object.entries(request.headers).map(([name, value]) => [name, SECRET_HEADERS.has(name) ? '<redacted>' : value]),
  );
  return { ...request, headers };
}
