import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.ts';
import { rewriteTinkrQuery } from '../../src/tinkr/query-rewrite.ts';

describe('rewriteTinkrQuery', () => {
  it.each([
    ['*', '*'],
    ['level:ERROR', 'status:"error"'],
    ['level:FATAL', 'status:("emerg" OR "emergency" OR "alert" OR "critical" OR "fatal")'],
    ['level:ERROR OR level:CRITICAL', 'status:"error" OR status:("emerg" OR "emergency" OR "alert" OR "critical" OR "fatal")'],
    ['lvl:warning AND timeout', 'status:("warn" OR "warning") AND timeout'],
    ['severity:"INFO"', 'status:("info" OR "notice" OR "ok")'],
    ['level:(ERROR OR WARN)', '(status:"error" OR status:("warn" OR "warning"))'],
    ['level:custom', 'status:custom'],
    ['@http.status_code:500 -level:DEBUG', '@http.status_code:500 -level:DEBUG'],
    ['service:x', 'service:x'],
  ])('%j → %j', (input, output) => {
    expect(rewriteTinkrQuery(input)).toBe(output);
  });

  it('refuses a structurally broken query with a 400', () => {
    expect(() => rewriteTinkrQuery('level:(ERROR')).toThrow(AppError);
  });
});
