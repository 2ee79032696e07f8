import { readFileSync } from 'node:fs';
import addFormats from 'ajv-formats';
import { OpenAPIBackend } from 'openapi-backend';
import { parse } from 'yaml';
import type { RecordedRequest } from '@tinkr/datadog-simulator';

/**
 * Datadog's own OpenAPI description of the three endpoints we call (openapi/datadog/, see its
 * SOURCE.md), loaded into openapi-backend. Used to check every request the gateway sends upstream
 * and every response the simulator gives.
 *
 * Gotchas (research notes on openapi-backend): the query must be a FLAT object, or `page[limit]`
 * is nested and rejected; formats need ajv-formats; security is not checked by openapi-backend,
 * so the key headers each operation's `security` names are asserted separately; spans' `application/vnd.api+json` is fine
 * because validateResponse ignores the content type.
 */

const SPEC_PATH = new URL('../../openapi/datadog/datadog-subset.openapi.yaml', import.meta.url);

export const datadogApi = new OpenAPIBackend({
  definition: parse(readFileSync(SPEC_PATH, 'utf8')) as ConstructorParameters<typeof OpenAPIBackend>[0]['definition'],
  strict: true,
  validate: true,
  customizeAjv: (ajv) => {
    addFormats.default(ajv);
    return ajv;
  },
});
await datadogApi.init();

/** The header of each security scheme we use; every other scheme (OAuth) is not ours. */
const KEY_HEADERS: Record<string, string> = { apiKeyAuth: 'dd-api-key', appKeyAuth: 'dd-application-key' };
const DEFAULT_SECURITY = (datadogApi.definition.security ?? []) as Array<Record<string, unknown>>;

/** The key headers an operation needs: those of its first security alternative made of key schemes. */
function requiredHeaders(security: Array<Record<string, unknown>> | undefined): string[] {
  const keyed = (security ?? DEFAULT_SECURITY).find((alternative) => Object.keys(alternative).every((scheme) => scheme in KEY_HEADERS));
  return Object.keys(keyed ?? {}).map((scheme) => KEY_HEADERS[scheme]!);
}

interface AjvError {
  instancePath?: string;
  message?: string;
  params?: Record<string, unknown>;
}

function describe(errors: readonly AjvError[] | null | undefined): string[] {
  return (errors ?? []).map((e) => {
    const extra = e.params?.['additionalProperty'] ?? e.params?.['missingProperty'] ?? e.params?.['allowedValues'];
    return `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${extra === undefined ? '' : ` (${JSON.stringify(extra)})`}`;
  });
}

/** Everything wrong with a request according to Datadog's spec; empty when it is valid. */
export function validateDatadogRequest(r: RecordedRequest): string[] {
  const violations: string[] = [];
  let operation;
  try {
    operation = datadogApi.matchOperation({ method: r.method, path: r.path, headers: r.headers, query: { ...r.query } });
  } catch {
    operation = undefined;
  }
  if (!operation) return [`${r.method} ${r.path} is not an operation of the Datadog API subset`];
  for (const header of requiredHeaders(operation.security as Array<Record<string, unknown>> | undefined)) {
    if (!r.headers[header]) violations.push(`missing header ${header.toUpperCase()}`);
  }
  const result = datadogApi.validateRequest(
    { method: r.method, path: r.path, headers: r.headers, query: { ...r.query }, body: r.body },
    operation,
  );
  if (!result.valid) violations.push(...describe(result.errors as AjvError[]).map((v) => `${operation.operationId}: ${v}`));
  return violations;
}

/** Everything wrong with a response body according to Datadog's spec for that operation and status. */
export function validateDatadogResponse(operationId: string, status: number, body: unknown): string[] {
  const result = datadogApi.validateResponse(body, operationId, status);
  return result.valid ? [] : describe(result.errors as AjvError[]);
}
