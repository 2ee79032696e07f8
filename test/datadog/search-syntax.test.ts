import { describe, expect, it } from 'vitest';
import { allOf, anyOf, checkQuery, group, quoteValue } from '../../src/datadog/search-syntax.ts';

describe('quoting', () => {
  it('quotes and escapes so a value is one term', () => {
    expect(quoteValue('payments-api')).toBe('"payments-api"');
    expect(quoteValue('a "b" \\ c')).toBe('"a \\"b\\" \\\\ c"');
    // The quoted form of a hostile value is itself a structurally whole query.
    for (const hostile of ['x) OR (service:other', 'a" OR service:"b', 'trailing\\', '*', 'a:b c:d']) {
      const check = checkQuery(`service:${quoteValue(hostile)}`);
      expect(check.ok).toBe(true);
      if (check.ok) expect(check.tokens).toHaveLength(1);
    }
  });

  it('composes clauses with AND and drops match-all ones', () => {
    expect(anyOf('service', ['a'])).toBe('service:"a"');
    expect(anyOf('service', ['a', 'b'])).toBe('service:("a" OR "b")');
    expect(allOf([undefined, '*', 'service:"a"', group('x OR y')])).toBe('service:"a" AND (x OR y)');
    expect(allOf([undefined, group('*')])).toBe('*');
  });
});

describe('checkQuery', () => {
  it.each([
    '*',
    'service:web* AND @http.status_code:[200 TO 299]',
    'status:(error OR warn)',
    '-status:info',
    '-(a OR b)',
    'NOT "health check"',
    '@message:"say \\"hi\\""',
    'env:prod @duration:>1000',
    '(a AND (b OR c)) d',
    'path:\\(escaped\\)',
    '@http.url:"/api/(v1)"',
  ])('accepts %j', (query) => {
    expect(checkQuery(query).ok).toBe(true);
  });

  it.each([
    ['x) OR (service:other', /without a matching "\("/],
    ['(a OR b', /without a matching "\)"/],
    ['"unclosed', /unclosed double quote/],
    ['ends\\', /lone backslash/],
    ['a OR', /ends with "OR"/],
    ['AND a', /nothing before it/],
    ['a AND OR b', /nothing before it/],
    ['()', /empty group/],
    ['(a OR)', /nothing after it/],
    ['status: error', /followed by a space/],
    ['status:', /ends with "status:"/],
    ['@x:[1 TO 2', /unclosed range/],
    ['a ] b', /unmatched/],
    ['NOT', /ends with "NOT"/],
  ])('rejects %j', (query, message) => {
    const check = checkQuery(query);
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.message).toMatch(message);
  });

  it('bounds the length', () => {
    expect(checkQuery('a'.repeat(4001)).ok).toBe(false);
  });
});

describe('checkQuery, strict (scoped keys)', () => {
  const strict = (query: string) => checkQuery(query, { strict: true });

  it.each([
    '*',
    'service:web* AND @http.status_code:[200 TO 299]',
    'status:(error OR warn)',
    '-status:info',
    '-(a OR b)',
    'NOT "health check"',
    '@http.url:"/api/(v1)"',
    '(a AND (b OR c)) d',
    'path:a\\:b',
    '@msg:"C:\\temp"',
    'error\ntimeout\tretry',
    'caf\u00e9 \uFF08x\uFF09',
  ])('accepts %j', (query) => {
    expect(strict(query).ok).toBe(true);
  });

  it.each([
    ['@message:"say \\"hi\\""', /escaped/],
    ['path:\\(escaped\\)', /escaped "\("/],
    ['a\\\\ b', /escaped "\\"/],
    ['"ends with \\\\"', /escaped/],
    ['a"b c"', /double quote inside a word/],
    ['"a"b', /glued to the text after it/],
    ['a(b)', /glued to the word before it/],
    ['(a)b', /glued to the word after it/],
    ['NOT(a)', /glued/],
    ['a-(b)', /glued/],
    ['x:[a\\] TO b]', /malformed range/],
    ['x:[a [ b]', /malformed range/],
    ['a\u00A0b', /U\+00A0/],
    ['a\u200Bb', /U\+200B/],
    ['a\u202Eb', /U\+202E/],
    ['a\u2028b', /U\+2028/],
    ['a\u0000b', /U\+0000/],
    ['('.repeat(33) + 'a' + ')'.repeat(33), /deeper than 32/],
  ])('rejects %j', (query, message) => {
    const check = strict(query);
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.message).toMatch(message);
  });

  it('keeps the lenient reading for unrestricted keys', () => {
    expect(checkQuery('@message:"say \\"hi\\""').ok).toBe(true);
    expect(checkQuery('a(b)').ok).toBe(true);
  });
});
