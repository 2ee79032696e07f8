/**
 * The one registry of public error codes (docs/http-api.md#errors). Every failure a caller can see is an
 * `AppError` with one of these codes; the error handler turns it into RFC 9457 problem+json.
 */
export const ERROR_CODES = {
  BAD_REQUEST: { status: 400, title: 'Bad request' },
  UPSTREAM_BAD_QUERY: { status: 400, title: 'Datadog rejected the query' },
  UNAUTHENTICATED: { status: 401, title: 'Unauthenticated' },
  FORBIDDEN: { status: 403, title: 'Forbidden' },
  NOT_FOUND: { status: 404, title: 'Not found' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Payload too large' },
  RATE_LIMITED: { status: 429, title: 'Rate limited' },
  UPSTREAM_RATE_LIMITED: { status: 429, title: 'Upstream rate limited' },
  UPSTREAM_AUTH: { status: 502, title: 'Upstream authentication failed' },
  UPSTREAM_ERROR: { status: 502, title: 'Upstream error' },
  NOT_READY: { status: 503, title: 'Not ready' },
  UPSTREAM_TIMEOUT: { status: 504, title: 'Upstream timeout' },
  INTERNAL: { status: 500, title: 'Internal error' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** One invalid input, as listed in a BAD_REQUEST's `errors`. */
export interface FieldError {
  path: string;
  message: string;
}

export interface AppErrorOptions {
  /** Field-level problems; only meaningful with BAD_REQUEST. */
  errors?: FieldError[];
  /** Seconds the caller should wait; sent as `Retry-After`. */
  retryAfterS?: number;
  /** Logged, never sent. */
  cause?: unknown;
}

/** A failure with a stable public code. `detail` is shown to the caller, so it must be safe. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly errors: FieldError[] | undefined;
  readonly retryAfterS: number | undefined;

  constructor(code: ErrorCode, detail: string, options: AppErrorOptions = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.errors = options.errors;
    this.retryAfterS = options.retryAfterS;
  }
}

/** Where a caller wrote a parameter: the query string, or a JSON body (the Tinkr routes). */
export type WrittenIn = 'query' | 'body';

/** The path errors name a parameter by: its own name, or `body.<name>` as for the body's schema errors. */
export function paramPath(name: string, writtenIn: WrittenIn = 'query'): string {
  return writtenIn === 'body' ? `body.${name}` : name;
}

/** Shorthand for a BAD_REQUEST about one parameter. */
export function badRequest(path: string, message: string): AppError {
  return new AppError('BAD_REQUEST', `${path}: ${message}`, { errors: [{ path, message }] });
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}
