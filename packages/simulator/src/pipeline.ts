import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from './clock.ts';
import type { SimData } from './data/source.ts';
import type { Fault, FaultQueue } from './faults.ts';
import { aggregateLogsEndpoint, aggregateSpansEndpoint } from './handlers/aggregate.ts';
import { logsInputFromBody, logsInputFromQuery, searchLogs } from './handlers/logs.ts';
import { queryMetricsEndpoint } from './handlers/metrics.ts';
import type { SearchContext } from './handlers/search-input.ts';
import { searchSpans, spansInputFromBody, spansInputFromQuery } from './handlers/spans.ts';
import { BodyTooLarge, flatHeaders, flatQuery, parseBody, readBody, send, serialise } from './http/io.ts';
import { apiError, errorFor, JSON_API_TYPE, JSON_TYPE, jsonApiError, statusTitle, type ApiEndpoint, type Endpoint, type Reply } from './http/reply.ts';
import type { ApiKeys } from './keys.ts';
import type { RateLimiter } from './rate-limits.ts';
import type { RecordedRequest, Recorder } from './recorder.ts';

/**
 * The request pipeline of the Datadog endpoints, in the order Datadog applies it:
 * record → route → authenticate (403) → rate limit (429, headers on every answer) →
 * request validation (400) → injected fault → handler. The key check (`GET /api/v1/validate`)
 * needs only the API key, as at Datadog, and is not rate-limited.
 */

export interface PipelineState {
  readonly clock: Clock;
  keys: ApiKeys;
  readonly limiter: RateLimiter;
  readonly faults: FaultQueue;
  readonly recorder: Recorder;
  readonly validateRequest: ((request: RecordedRequest) => string[]) | undefined;
  /** Generated data plus injected bursts. */
  readonly data: SimData;
  /** Waits in progress (injected latency); aborted when the simulator closes. */
  readonly waits: Set<AbortController>;
}

interface ParsedRequest {
  readonly query: Readonly<Record<string, string>>;
  readonly body: unknown;
}

interface Route {
  readonly endpoint: ApiEndpoint;
  /** `api`: only DD-API-KEY is checked (validate); otherwise both keys. */
  readonly keys?: 'api';
  readonly handle: (request: ParsedRequest, ctx: SearchContext) => Reply | Promise<Reply>;
}

function withInput<T>(input: T | string, endpoint: Endpoint, run: (input: T) => Reply): Reply {
  return typeof input === 'string' ? errorFor(endpoint, 400, input) : run(input);
}

const ROUTES: Readonly<Record<string, Route>> = {
  'POST /api/v2/logs/events/search': {
    endpoint: 'logs',
    handle: (r, ctx) => withInput(logsInputFromBody(r.body), 'logs', (input) => searchLogs(input, ctx)),
  },
  'GET /api/v2/logs/events': {
    endpoint: 'logs',
    handle: (r, ctx) => withInput(logsInputFromQuery(r.query), 'logs', (input) => searchLogs(input, ctx)),
  },
  'POST /api/v2/spans/events/search': {
    endpoint: 'spans',
    handle: (r, ctx) => withInput(spansInputFromBody(r.body), 'spans', (input) => searchSpans(input, ctx)),
  },
  'GET /api/v2/spans/events': {
    endpoint: 'spans',
    handle: (r, ctx) => withInput(spansInputFromQuery(r.query), 'spans', (input) => searchSpans(input, ctx)),
  },
  'GET /api/v1/query': {
    endpoint: 'metrics',
    handle: (r, ctx) => queryMetricsEndpoint(r.query, ctx.nowMs),
  },
  'GET /api/v1/validate': {
    endpoint: 'validate',
    keys: 'api',
    handle: () => ({ status: 200, body: { valid: true }, contentType: JSON_TYPE }),
  },
  'POST /api/v2/logs/analytics/aggregate': {
    endpoint: 'logs_aggregate',
    handle: (r, ctx) => aggregateLogsEndpoint(r.body, ctx),
  },
  'POST /api/v2/spans/analytics/aggregate': {
    endpoint: 'spans_aggregate',
    handle: (r, ctx) => aggregateSpansEndpoint(r.body, ctx),
  },
};

/** The rate-limited family of an endpoint; undefined for the key check. */
function familyOf(endpoint: ApiEndpoint | 'other'): Endpoint | undefined {
  return endpoint === 'validate' || endpoint === 'other' ? undefined : endpoint;
}

/** What a non-JSON 200 looks like when a proxy in front of Datadog fails. */
const NON_JSON_BODY = '<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>';

export async function handleDatadogRequest(state: PipelineState, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const arrivedMs = state.clock.now();
  const route = ROUTES[`${req.method} ${url.pathname}`];
  const endpoint = route?.endpoint ?? 'other';
  let text: string;
  try {
    text = await readBody(req);
  } catch (error) {
    if (error instanceof BodyTooLarge) {
      send(res, errorFor(endpoint, 413, error.message));
      return;
    }
    throw error;
  }
  const { value: body, json } = parseBody(text);
  const recorded: RecordedRequest = {
    endpoint,
    method: req.method ?? 'GET',
    path: url.pathname,
    query: flatQuery(url),
    headers: flatHeaders(req),
    body,
    at: arrivedMs,
    violations: [],
  };
  const violations = validate(state, recorded);
  state.recorder.record({ ...recorded, violations });
  if (!route) {
    send(res, apiError(404, 'Not found'));
    return;
  }

  const apiKey = recorded.headers['dd-api-key'] ?? '';
  const appKey = recorded.headers['dd-application-key'] ?? '';
  const family = familyOf(endpoint);
  if (apiKey !== state.keys.apiKey || (route.keys !== 'api' && appKey !== state.keys.appKey)) {
    send(res, withHeaders(errorFor(endpoint, 403, 'Forbidden'), family ? state.limiter.peek(family, apiKey) : {}));
    return;
  }
  const decision = family ? state.limiter.take(family, apiKey) : { allowed: true, headers: {} };
  if (!decision.allowed) {
    send(res, withHeaders(errorFor(endpoint, 429, 'Too many requests'), decision.headers));
    return;
  }
  if (!json) {
    send(res, withHeaders(errorFor(endpoint, 400, 'Invalid JSON in request body'), decision.headers));
    return;
  }
  if (violations.length > 0) {
    const reply = endpoint === 'spans' ? jsonApiErrors(400, violations) : apiError(400, ...violations);
    send(res, withHeaders(reply, decision.headers));
    return;
  }

  const fault = state.faults.take(endpoint);
  if (fault?.delayMs) {
    const done = await wait(state, res, fault.delayMs);
    if (!done) return;
  }
  if (fault?.kind === 'drop') {
    req.socket.destroy();
    return;
  }
  let reply: Reply;
  if (fault?.kind === 'status') {
    reply = faultReply(state, endpoint, apiKey, fault);
  } else {
    const nowMs = state.clock.now();
    const ctx: SearchContext = {
      nowMs,
      origin: `http://${req.headers.host ?? url.host}`,
      timedOut: fault?.kind === 'timeout',
      requestId: randomBytes(18).toString('base64url'),
      elapsedMs: () => Math.max(0, state.clock.now() - arrivedMs),
      data: state.data,
    };
    reply = withHeaders(await route.handle({ query: recorded.query, body }, ctx), decision.headers);
  }
  if (fault?.kind === 'malformed') {
    const full = serialise(reply);
    send(res, { ...reply, status: 200 }, fault.variant === 'non-json' ? NON_JSON_BODY : full.slice(0, Math.floor(full.length / 2)));
    return;
  }
  send(res, reply);
}

function validate(state: PipelineState, request: RecordedRequest): string[] {
  if (!state.validateRequest) return [];
  try {
    return state.validateRequest(request);
  } catch (error) {
    return [`request validator failed: ${error instanceof Error ? error.message : String(error)}`];
  }
}

function withHeaders(reply: Reply, headers: Record<string, string>): Reply {
  return { ...reply, headers: { ...headers, ...reply.headers } };
}

function jsonApiErrors(status: number, details: readonly string[]): Reply {
  return {
    status,
    body: { errors: details.map((detail) => ({ status: String(status), title: statusTitle(status), detail })) },
    contentType: JSON_API_TYPE,
  };
}

/** Sleeps on the injected clock; false when the client went away or the simulator closed. */
async function wait(state: PipelineState, res: ServerResponse, ms: number): Promise<boolean> {
  const controller = new AbortController();
  const onClose = (): void => {
    if (!res.writableFinished) controller.abort();
  };
  res.on('close', onClose);
  state.waits.add(controller);
  try {
    await state.clock.sleep(ms, controller.signal);
    return !controller.signal.aborted;
  } catch {
    return false;
  } finally {
    state.waits.delete(controller);
    res.off('close', onClose);
  }
}

function faultReply(state: PipelineState, endpoint: ApiEndpoint, apiKey: string, fault: Extract<Fault, { kind: 'status' }>): Reply {
  const base: Reply =
    fault.body !== undefined
      ? { status: fault.status, body: fault.body, contentType: endpoint === 'spans' ? JSON_API_TYPE : JSON_TYPE }
      : errorFor(endpoint, fault.status, fault.message ?? statusTitle(fault.status));
  const family = familyOf(endpoint);
  let headers: Record<string, string> = family ? { ...state.limiter.peek(family, apiKey) } : {};
  if (fault.status === 429) {
    headers['X-RateLimit-Remaining'] = '0';
    if (fault.resetS !== undefined) headers['X-RateLimit-Reset'] = String(fault.resetS);
  }
  let contentType = base.contentType;
  for (const [name, value] of Object.entries(fault.headers ?? {})) {
    if (name.toLowerCase() === 'content-type') contentType = value;
    else headers = { ...Object.fromEntries(Object.entries(headers).filter(([n]) => n.toLowerCase() !== name.toLowerCase())), [name]: value };
  }
  return { ...base, contentType, headers };
}

/** The 500 a simulator bug produces, in the family's shape. */
export function internalError(endpoint: Endpoint | 'other'): Reply {
  return endpoint === 'spans' ? jsonApiError(500, 'Internal Server Error') : apiError(500, 'Internal Server Error');
}
