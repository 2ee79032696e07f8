import { DATADOG_SITES, isDatadogSite } from '../datadog/sites.ts';
import { type DatadogCredentials, SecretsBootError, type SecretsErrorKind } from './types.ts';

/**
 * Turns what a secret manager returned into DatadogCredentials. Every error here is about a
 * secret's *content*, so messages say what is wrong in terms of lengths, types and key names,
 * never with any part of a value: not even JSON.parse's message, which quotes the input.
 */

/** Which secret a value came from, for error messages. */
export interface SecretContext {
  provider: string;
  /** The secret's name/ARN/id, with version when one is configured. */
  secretRef: string;
  /** `region eu-west-1`, `project my-proj`, `vault https://x.vault.azure.net`. */
  location: string;
}

export const REQUIRED_KEYS = ['DD_API_KEY', 'DD_APP_KEY'] as const;
export const OPTIONAL_KEYS = ['DD_SITE'] as const;
export type CredentialKey = (typeof REQUIRED_KEYS)[number] | (typeof OPTIONAL_KEYS)[number];

const EXPECTED = `expected keys ${REQUIRED_KEYS.join(', ')} and optionally ${OPTIONAL_KEYS.join(', ')}`;
const SITES = `one of the nine Datadog sites (${DATADOG_SITES.join(', ')})`;

// Key names are listed in "missing key" messages to help spot a typo. A name that does not look
// like an identifier might be a value pasted in the wrong place, so it is counted, not shown.
const SHOWABLE_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
// Enough names to spot a typo, few enough to keep one log line readable.
const MAX_NAMES_SHOWN = 20;

function fail(ctx: SecretContext, kind: SecretsErrorKind, explanation: string): SecretsBootError {
  return new SecretsBootError({ provider: ctx.provider, secretRef: ctx.secretRef, location: ctx.location, kind }, explanation);
}

/** Plaintext values are trimmed: a trailing newline from `echo` or a console paste is never part of a key. */
function clean(value: string): string {
  return value.trim();
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

function namesPresent(object: object): string {
  const names = Object.keys(object);
  if (names.length === 0) return 'none';
  const shown = names.filter((n) => SHOWABLE_NAME.test(n)).slice(0, MAX_NAMES_SHOWN);
  const hidden = names.length - shown.length;
  return [...shown, ...(hidden > 0 ? [`${hidden} other name${hidden === 1 ? '' : 's'} not shown`] : [])].join(', ');
}

/**
 * Most other values of one JSON secret kept for scrubbing: a secret holds a handful; the bound
 * keeps the scrubber's pattern small whatever was pasted into it.
 */
export const MAX_OTHER_SECRETS = 32;
/** Deepest nesting walked for other values; a secret is a flat object in practice. */
const MAX_SECRET_DEPTH = 4;

/** String values of the secret outside the keys and the site, nested ones included, trimmed. */
function otherSecrets(object: Record<string, unknown>): string[] {
  const found: string[] = [];
  const walk = (value: unknown, depth: number): void => {
    if (found.length >= MAX_OTHER_SECRETS) return;
    if (typeof value === 'string') {
      if (value.trim() !== '') found.push(value.trim());
    } else if (value !== null && typeof value === 'object' && depth < MAX_SECRET_DEPTH) {
      for (const item of Object.values(value)) walk(item, depth + 1);
    }
  };
  for (const [name, value] of Object.entries(object)) {
    if (!(REQUIRED_KEYS as readonly string[]).includes(name) && !(OPTIONAL_KEYS as readonly string[]).includes(name)) walk(value, 1);
  }
  return found;
}

// A key is one token: whitespace or control characters inside it mean the secret holds something else
// (a sentence, two keys, a PEM) and would also corrupt the HTTP header it is sent in.
const INNER_SPACE = /[\s\u0000-\u001f\u007f]/;

function checkKey(value: string, ctx: SecretContext, what: string): string {
  if (INNER_SPACE.test(value)) throw fail(ctx, 'malformed', `${what} contains whitespace or control characters (length ${value.length}); a key is a single token`);
  return value;
}

function site(value: string, ctx: SecretContext, what: string): DatadogCredentials['site'] {
  // The value is not quoted: a key pasted into DD_SITE by mistake must not reach the logs.
  if (!isDatadogSite(value)) throw fail(ctx, 'misconfigured', `${what} is not ${SITES}`);
  return value;
}

/** One JSON secret `{"DD_API_KEY","DD_APP_KEY","DD_SITE"?}`. `undefined` means the secret holds no value at all. */
export function credentialsFromJson(text: string | undefined, ctx: SecretContext): DatadogCredentials {
  if (text === undefined || text.trim() === '') throw fail(ctx, 'empty', `is empty; ${EXPECTED} as a JSON object`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Never forward the parser's message: V8 quotes the text around the error, i.e. the secret.
    throw fail(ctx, 'malformed', `is not valid JSON (length ${text.length}); ${EXPECTED} as a JSON object`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw fail(ctx, 'malformed', `is valid JSON but ${describeType(parsed)}, not an object; ${EXPECTED}`);
  }
  const object = parsed as Record<string, unknown>;
  const missing = REQUIRED_KEYS.filter((k) => !Object.hasOwn(object, k));
  if (missing.length > 0) {
    throw fail(ctx, 'missing_key', `has no ${missing.join(' or ')}; ${EXPECTED}; present: ${namesPresent(object)} (names are case-sensitive)`);
  }
  const value = (key: CredentialKey): string | undefined => {
    if (!Object.hasOwn(object, key)) return undefined;
    const raw = object[key];
    if (typeof raw !== 'string') throw fail(ctx, 'malformed', `${key} is ${describeType(raw)}, not a string`);
    const trimmed = clean(raw);
    if (trimmed === '') throw fail(ctx, 'empty', `${key} is empty`);
    return trimmed;
  };
  const apiKey = checkKey(value('DD_API_KEY') ?? '', ctx, 'DD_API_KEY');
  const appKey = checkKey(value('DD_APP_KEY') ?? '', ctx, 'DD_APP_KEY');
  const siteText = value('DD_SITE');
  const others = otherSecrets(object);
  return {
    apiKey,
    appKey,
    ...(siteText === undefined ? {} : { site: site(siteText, ctx, 'DD_SITE') }),
    ...(others.length > 0 ? { otherSecrets: others } : {}),
  };
}

/** One plaintext value per key; `undefined` text means that secret holds no value at all. */
export type Plaintexts = { [K in CredentialKey]?: { text: string | undefined; ctx: SecretContext } };

export function credentialsFromPlaintexts(values: Plaintexts): DatadogCredentials {
  const value = (key: CredentialKey): string | undefined => {
    const entry = values[key];
    if (entry === undefined) return undefined;
    const trimmed = entry.text === undefined ? '' : clean(entry.text);
    if (trimmed === '') throw fail(entry.ctx, 'empty', `is empty; it should hold ${key} as plain text`);
    if (trimmed.startsWith('{')) {
      // Not guessed from: a `keys` secret is plain text by contract (research §1.4, datadog-serverless-functions#376).
      throw fail(entry.ctx, 'malformed', `looks like a JSON object (length ${trimmed.length}), but a \`keys\` secret holds ${key} as plain text; for one JSON secret use \`secret\``);
    }
    return key === 'DD_SITE' ? trimmed : checkKey(trimmed, entry.ctx, 'its value');
  };
  const apiKey = value('DD_API_KEY');
  const appKey = value('DD_APP_KEY');
  if (apiKey === undefined || appKey === undefined) {
    // Only reachable through a programming error: the schema requires both ids.
    throw new Error('credentialsFromPlaintexts needs DD_API_KEY and DD_APP_KEY');
  }
  const siteText = value('DD_SITE');
  const siteCtx = values.DD_SITE?.ctx;
  return siteText === undefined || siteCtx === undefined
    ? { apiKey, appKey }
    : { apiKey, appKey, site: site(siteText, siteCtx, 'its value') };
}
