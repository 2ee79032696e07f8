import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { warningSchema } from '../src/schemas/common.ts';
import { relayedWarningCode, WARNING_CODES } from '../src/warnings.ts';

/** The one list of warning codes is the one callers read: in the HTTP API page and in the OpenAPI document. */

const HTTP_API = readFileSync(join(import.meta.dirname, '..', 'docs', 'http-api.md'), 'utf8');

function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  expect(start, `a "## ${heading}" section`).toBeGreaterThan(-1);
  const end = markdown.indexOf('\n## ', start + 1);
  return markdown.slice(start, end < 0 ? undefined : end);
}

describe('warning codes', () => {
  it('are each a row of docs/http-api.md#warnings, and that table names no other', () => {
    const table = section(HTTP_API, 'Warnings');
    const documented = [...table.matchAll(/^\| `([a-z_<>]+)` \|/gm)].map((m) => m[1]);
    expect(documented).toEqual([...Object.keys(WARNING_CODES), 'datadog_<code>']);
  });

  it('are each described in the OpenAPI schema of meta.warnings', () => {
    const description = warningSchema.shape.code.description ?? '';
    for (const code of Object.keys(WARNING_CODES)) expect(description).toContain(`\`${code}\``);
    expect(description).toContain('datadog_<code>');
  });

  it("pass Datadog's own code on under a prefix, bounded in length", () => {
    expect(relayedWarningCode('unknown_index')).toBe('datadog_unknown_index');
    expect(relayedWarningCode('x'.repeat(500))).toHaveLength(100);
  });
});
