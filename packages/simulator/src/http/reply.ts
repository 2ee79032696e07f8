/** A response before it is written, so faults can rewrite it (truncate, delay, replace). */
export interface Reply {
  status: number;
  body: unknown;
  contentType: string;
  headers?: Record<string, string>;
}

export const JSON_TYPE = 'application/json';
/** Datadog answers spans requests (200 and errors) with this type, unlike the spec. */
export const JSON_API_TYPE = 'application/vnd.api+json';

/**
 * Endpoint families, each with its own rate limit: the searches, the metrics query and the two
 * analytics aggregates (Datadog budgets these separately and names them in `X-RateLimit-Name`).
 */
export const ENDPOINTS = ['logs', 'spans', 'metrics', 'logs_aggregate', 'spans_aggregate'] as const;
export type Endpoint = (typeof ENDPOINTS)[number];
/** Every Datadog endpoint served: the families, and the key check (`GET /api/v1/validate`, not rate-limited). */
export type ApiEndpoint = Endpoint | 'validate';

/** `APIErrorResponse`: `{"errors": ["..."]}` (logs and metrics). */
export function apiError(status: number, ...messages: string[]): Reply {
  return { status, body: { errors: messages }, contentType: JSON_TYPE };
}

const TITLES: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  413: 'Payload Too Large',
  422: 'Generic Error',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function statusTitle(status: number): string {
  return TITLES[status] ?? 'Error';
}

/** `JSONAPIErrorResponse`: `{"errors": [{"title", "detail", "status"}]}` (spans). */
export function jsonApiError(status: number, detail: string, title = statusTitle(status)): Reply {
  return { status, body: { errors: [{ status: String(status), title, detail }] }, contentType: JSON_API_TYPE };
}

/** The error shape of an endpoint family: JSON:API for the spans searches only (spans aggregate uses the plain shape). */
export function errorFor(endpoint: ApiEndpoint | 'other', status: number, message: string): Reply {
  return endpoint === 'spans' ? jsonApiError(status, message) : apiError(status, message);
}
