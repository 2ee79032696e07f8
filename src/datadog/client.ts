import { Pool } from 'undici';
import type { Clock } from '../clock.ts';
import { AppError } from '../errors.ts';
import { createScrubber, type Scrub, type SecretValues } from '../secrets/scrub.ts';
import type { DatadogCredentials } from '../secrets/types.ts';
import type { Telemetry } from '../telemetry/telemetry.ts';
import { DEFAULT_RETRY_AFTER_S, signalName, type RateLimitInfo, type UpstreamReply, type UpstreamRequest } from '../upstream-call.ts';
import { scrubRelayedText } from './relayed-text.ts';

/**
 * The Datadog client: the one place the server talks HTTP to Datadog. The transport (one pooled
 * undici client), one exchange with its telemetry and rate-limit headers, and the mapping of
 * every non-2xx status and failed connection to a public error. Whether and when to try again
 * is the engine's call (upstream/retrying-call.ts); what to send and how to read the answer is
 * the translators' (logs.ts, metrics.ts, spans.ts, aggregate.ts).
 */

/** What came back from Datadog, before any interpretation. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  text: string;
}

/** What goes on the wire; an UpstreamRequest is one. */
export type DatadogRequest = Pick<UpstreamRequest, 'method' | 'path' | 'query' | 'body'> & {
  /** Send DD-API-KEY only: Datadog's key check (`/api/v1/validate`) is about the API key alone. */
  apiKeyOnly?: boolean;
};

/** Sends one request to Datadog with the given keys. The only HTTP to Datadog in the server. */
export interface DatadogTransport {
  request(request: DatadogRequest, credentials: DatadogCredentials, signal: AbortSignal): Promise<RawResponse>;
  close(): Promise<void>;
}

export interface TransportOptions {
  /** `https://api.datadoghq.com`, or an `api_url` override (simulator, proxy), path prefix allowed. */
  baseUrl: string;
  userAgent: string;
  /** Sockets kept open to Datadog; beyond it requests wait in undici's queue. */
  connections?: number;
}

/** Keep-alive sockets to Datadog; enough for a busy replica, few enough to be polite. */
export const DEFAULT_UPSTREAM_CONNECTIONS = 16;
/** Idle sockets are closed after this; Datadog's load balancers drop idle ones after about a minute. */
const KEEP_ALIVE_TIMEOUT_MS = 30_000;
/** A TCP+TLS handshake that takes longer than this is not going to help the caller. */
const CONNECT_TIMEOUT_MS = 5_000;
/**
 * Largest answer read from Datadog. A full page of 1,000 logs with big attributes is a few MB;
 * anything past this is a fault, and reading it would put the whole server's memory at risk.
 */
export const MAX_UPSTREAM_BODY_BYTES = 32 * 1024 * 1024;

/** One pooled undici client for the Datadog host: keep-alive, timeouts, abort, size cap. */
export function createDatadogTransport(options: TransportOptions): DatadogTransport {
  const base = new URL(options.baseUrl);
  const prefix = base.pathname.replace(/\/+$/, '');
  const pool = new Pool(base.origin, {
    connections: options.connections ?? DEFAULT_UPSTREAM_CONNECTIONS,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    connect: { timeout: CONNECT_TIMEOUT_MS },
    // The request deadline (an AbortSignal) bounds each call; these only stop a stuck socket
    // from outliving any deadline we would ever set.
    headersTimeout: 300_000,
    bodyTimeout: 300_000,
    maxResponseSize: MAX_UPSTREAM_BODY_BYTES,
  });

  return {
    async request(request, credentials, signal) {
      const query = request.query ? `?${new URLSearchParams(request.query).toString()}` : '';
      const headers: Record<string, string> = {
        accept: 'application/json',
        'user-agent': options.userAgent,
        'dd-api-key': credentials.apiKey,
      };
      if (!request.apiKeyOnly) headers['dd-application-key'] = credentials.appKey;
      let body: string | undefined;
      if (request.method === 'POST') {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(request.body ?? {});
      }
      const response = await pool.request({
        method: request.method,
        path: `${prefix}${request.path}${query}`,
        headers,
        body,
        signal,
      });
      const text = await response.body.text();
      const flat: Record<string, string> = {};
      for (const [name, value] of Object.entries(response.headers)) {
        if (value !== undefined) flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
      }
      return { status: response.statusCode, headers: flat, text };
    },
    async close() {
      await pool.close();
    },
  };
}

/** How one exchange ended; the caller decides whether another try is worth it. */
export type Exchange =
  /** A 2xx answer, parsed, with Datadog's relayed text scrubbed. */
  | { kind: 'reply'; reply: UpstreamReply }
  /** Any other status, with the public error it maps to. */
  | { kind: 'status'; status: number; error: AppError }
  /** No answer at all (the connection failed or was aborted): the cause, and the public error. */
  | { kind: 'failure'; cause: unknown; error: AppError };

export interface DatadogClientDeps {
  transport: DatadogTransport;
  /** Every secret value, so that Datadog's text passed on to callers never quotes one. */
  secrets: SecretValues;
  clock: Clock;
  telemetry: Telemetry;
  /** Sees every answer's rate-limit headers, with the keys used (the budget gate listens here). */
  onRateLimit?: (request: UpstreamRequest, info: RateLimitInfo, status: number, used: DatadogCredentials) => void | Promise<void>;
}

export interface DatadogClient {
  /** One HTTP exchange with the given keys; throws only for a 2xx answer that is not JSON. */
  exchange(request: UpstreamRequest, used: DatadogCredentials, signal: AbortSignal): Promise<Exchange>;
}

export function createDatadogClient(deps: DatadogClientDeps): DatadogClient {
  const scrub = createScrubber(deps.secrets);
  return {
    async exchange(request, used, signal) {
      const started = deps.clock.now();
      let response: RawResponse;
      try {
        response = await deps.transport.request(request, used, signal);
      } catch (error) {
        deps.telemetry.upstreamCall(request.family, signal.aborted ? 'timeout' : 'error', deps.clock.now() - started);
        return { kind: 'failure', cause: error, error: errorForFailure(error, request) };
      }
      deps.telemetry.upstreamCall(request.family, response.status, deps.clock.now() - started);
      const info = readRateLimit(response.headers);
      if (info) {
        deps.telemetry.rateLimit(info);
        await deps.onRateLimit?.(request, info, response.status, used);
      }
      if (response.status >= 200 && response.status < 300) {
        const body = parseBody(response, request);
        scrubRelayedText(body, scrub);
        return { kind: 'reply', reply: { body, fetchedAt: deps.clock.now(), bytes: response.text.length } };
      }
      return { kind: 'status', status: response.status, error: errorForStatus(response, request, scrub) };
    },
  };
}

function parseBody(response: RawResponse, request: UpstreamRequest): unknown {
  try {
    const body: unknown = JSON.parse(response.text);
    if (body !== null && typeof body === 'object') return body;
  } catch {
    // The parser's message quotes the body; it is not passed on.
  }
  throw new AppError('UPSTREAM_ERROR', `Datadog sent an answer to the ${request.family} query that is not valid JSON`);
}

/** The headers' values, or undefined when the answer carried none (or nonsense). */
function readRateLimit(headers: Readonly<Record<string, string | undefined>>): RateLimitInfo | undefined {
  const limit = toInt(headers['x-ratelimit-limit']);
  const remaining = toInt(headers['x-ratelimit-remaining']);
  const resetS = toInt(headers['x-ratelimit-reset']);
  if (limit === undefined || remaining === undefined || resetS === undefined) return undefined;
  return {
    name: (headers['x-ratelimit-name'] ?? 'unnamed').slice(0, 100),
    limit,
    periodS: toInt(headers['x-ratelimit-period']) ?? 0,
    remaining,
    resetS,
  };
}

function toInt(value: string | undefined): number | undefined {
  if (value === undefined || !/^\s*\d{1,12}\s*$/.test(value)) return undefined;
  return Number(value);
}

/** Seconds a caller should wait after a 429: `X-RateLimit-Reset`, else `Retry-After`, else a minute. */
function retryAfterSeconds(headers: Readonly<Record<string, string | undefined>>): number {
  const reset = readRateLimit(headers)?.resetS ?? toInt(headers['x-ratelimit-reset']);
  if (reset !== undefined) return Math.max(1, reset);
  const retryAfter = toInt(headers['retry-after']);
  return retryAfter !== undefined ? Math.max(1, retryAfter) : DEFAULT_RETRY_AFTER_S;
}

/** Longest piece of Datadog's own error text passed on to a caller. */
const MAX_UPSTREAM_MESSAGE = 500;

/**
 * Datadog's message from an error body: `{"errors":["..."]}` (logs, metrics) or
 * `{"errors":[{"title","detail"}]}` (spans, JSON:API), scrubbed of secrets before it is cut to
 * length (a cut through a key would leave its first part). Undefined when there is none.
 */
function datadogMessage(text: string, scrub: Scrub): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const errors = (parsed as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(errors)) return undefined;
  const parts = errors
    .map((e: unknown) => {
      if (typeof e === 'string') return e;
      if (e && typeof e === 'object') {
        const { detail, title } = e as { detail?: unknown; title?: unknown };
        return typeof detail === 'string' ? detail : typeof title === 'string' ? title : undefined;
      }
      return undefined;
    })
    .filter((s): s is string => typeof s === 'string' && s.length > 0);
  if (parts.length === 0) return undefined;
  const joined = scrub(parts.join('; '));
  return joined.length > MAX_UPSTREAM_MESSAGE ? `${joined.slice(0, MAX_UPSTREAM_MESSAGE)}…` : joined;
}

/** The public error for a non-2xx answer from Datadog (docs/http-api.md#errors); Datadog's words are scrubbed. */
function errorForStatus(response: RawResponse, request: UpstreamRequest, scrub: Scrub): AppError {
  const signal = signalName(request.family);
  const { status } = response;
  if (status === 400 || status === 422) {
    const message = datadogMessage(response.text, scrub) ?? `HTTP ${status}`;
    return new AppError('UPSTREAM_BAD_QUERY', `Datadog rejected the ${signal} query: ${message}`);
  }
  if (status === 401 || status === 403) {
    return new AppError(
      'UPSTREAM_AUTH',
      `Datadog refused the configured keys (HTTP ${status}); check the API and application keys and the site`,
    );
  }
  if (status === 429) {
    const retryAfterS = retryAfterSeconds(response.headers);
    return new AppError('UPSTREAM_RATE_LIMITED', `Datadog ${signal} rate limit reached; retry in ${retryAfterS} s`, {
      retryAfterS,
    });
  }
  return new AppError('UPSTREAM_ERROR', `Datadog answered HTTP ${status} to the ${signal} query`);
}

/** The public error for a request that got no answer at all (a timeout is upstreamTimeout's). */
function errorForFailure(error: unknown, request: UpstreamRequest): AppError {
  const signal = signalName(request.family);
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') {
    return new AppError('UPSTREAM_ERROR', `Datadog's answer to the ${signal} query was too large`, { cause: error });
  }
  return new AppError('UPSTREAM_ERROR', `Could not reach Datadog for the ${signal} query`, { cause: error });
}
