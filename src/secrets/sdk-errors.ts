import type { SecretContext } from './payload.ts';
import { SecretsBootError, type SecretsErrorKind } from './types.ts';

/**
 * Reading SDK errors without trusting them. Each SDK is a separate package with its own error
 * classes (and possibly several copies installed), so errors are recognised by `name`, `code`
 * and status fields, never by `instanceof`. SDK messages are only quoted when they come from a
 * service's error body; transport and parse errors can quote the response, i.e. the secret.
 */

export function field(err: unknown, key: string): unknown {
  return typeof err === 'object' && err !== null ? (err as Record<string, unknown>)[key] : undefined;
}

export function stringField(err: unknown, key: string): string | undefined {
  const v = field(err, key);
  return typeof v === 'string' ? v : undefined;
}

export function numberField(err: unknown, key: string): number | undefined {
  const v = field(err, key);
  return typeof v === 'number' ? v : undefined;
}

// Long enough for "User arn:... is not authorized to perform ... on resource ...", short enough for a log line.
const MAX_SERVICE_MESSAGE = 300;

/** A service's own error message, on one line and bounded. Only for messages parsed from a service's error body. */
export function serviceSaid(message: string | undefined): string {
  if (message === undefined || message.trim() === '') return '';
  // Control characters are stripped so a message cannot forge extra log lines.
  const flat = message.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  const bounded = flat.length > MAX_SERVICE_MESSAGE ? `${flat.slice(0, MAX_SERVICE_MESSAGE)}…` : flat;
  return ` (the service said: ${bounded})`;
}

/** Socket-level failures: the endpoint could not be talked to at all. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ETIMEDOUT',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Node's TLS verification failures: a trust problem is configuration, not an outage. */
const TLS_CODES = /^(?:CERT_\w+|UNABLE_TO_\w+|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_TLS_CERT_ALTNAME_INVALID|ERR_SSL_\w+)$/;

// SDKs wrap a socket error two or three times (SDK error → fetch error → system error); the
// bound only stops a cyclic cause chain.
const MAX_CAUSE_DEPTH = 5;

/** The Node error code of err or of anything in its cause chain. */
export function errorCode(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && current !== undefined && current !== null; depth++) {
    const code = stringField(current, 'code') ?? stringField(current, 'errno');
    if (code !== undefined && (NETWORK_CODES.has(code) || TLS_CODES.test(code))) return code;
    current = field(current, 'cause');
  }
  return undefined;
}

/** A network or TLS code mentioned inside a message (gax folds the socket error into its own text). */
export function codeInMessage(message: string | undefined): string | undefined {
  if (message === undefined) return undefined;
  for (const m of message.matchAll(/\b([A-Z][A-Z0-9_]{3,})\b/g)) {
    const code = m[1] ?? '';
    if (NETWORK_CODES.has(code) || TLS_CODES.test(code)) return code;
  }
  return undefined;
}

export function bootError(ctx: SecretContext, kind: SecretsErrorKind, explanation: string): SecretsBootError {
  return new SecretsBootError({ provider: ctx.provider, secretRef: ctx.secretRef, location: ctx.location, kind }, explanation);
}

/** A socket or TLS failure as a boot error; undefined when `code` is neither. */
export function networkError(ctx: SecretContext, code: string | undefined, endpointHint: string): SecretsBootError | undefined {
  if (code === undefined) return undefined;
  if (TLS_CODES.test(code)) {
    return bootError(
      ctx,
      'misconfigured',
      `the TLS certificate of the endpoint is not trusted (${code}); for an emulator or proxy with its own CA, start the server with NODE_EXTRA_CA_CERTS pointing at that CA`,
    );
  }
  if (code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return bootError(ctx, 'timeout', `the connection timed out (${code}); ${endpointHint}`);
  }
  return bootError(ctx, 'unreachable', `the endpoint could not be reached (${code}); ${endpointHint}`);
}

/** Fallback for errors no rule recognised: name the error type, never its message. */
export function unexpectedError(ctx: SecretContext, err: unknown): SecretsBootError {
  const name = stringField(err, 'name') ?? typeof err;
  return bootError(ctx, 'unreachable', `the request failed in an unexpected way (${name}); the endpoint may not be the secret manager it should be`);
}

export function abortedError(ctx: SecretContext): SecretsBootError {
  return bootError(ctx, 'timeout', 'the request was abandoned when the secrets deadline (secrets.timeout_ms) passed');
}
