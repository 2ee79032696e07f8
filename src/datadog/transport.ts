import { Pool } from 'undici';
import type { DatadogCredentials } from '../secrets/types.ts';
import type { UpstreamRequest } from '../upstream/types.ts';

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
