import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { describe, expect, it } from 'vitest';
import { envSchema } from '../../src/config/env.ts';

/** `.env.example` documents every variable the server reads, so it cannot fall behind env.ts. */

const TEXT = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
const LINES = TEXT.split('\n');
const READ = Object.keys(envSchema.shape);
/** Variables whose values are secrets: the example must leave them blank. */
const SECRETS = ['DD_API_KEY', 'DD_APP_KEY', 'TINKR_CURSOR_SECRET', 'TINKR_API_KEYS', 'TINKR_REDIS_URL'];

describe('.env.example', () => {
  it('has a line for every variable the server reads, with a comment above it', () => {
    for (const name of READ) {
      const index = LINES.findIndex((line) => line.startsWith(`${name}=`));
      expect(index, `${name} is missing from .env.example`).toBeGreaterThan(0);
      // The comment may sit above a group of related variables (HOST and PORT, the two keys).
      const above = LINES.slice(0, index).reverse().find((line) => !/^[A-Z0-9_]+=/.test(line));
      expect(above, `${name} has no comment`).toMatch(/^# \S/);
    }
  });

  it('sets no variable the server does not read', () => {
    const assigned = LINES.filter((line) => /^[A-Z0-9_]+=/.test(line)).map((line) => line.slice(0, line.indexOf('=')));
    expect(assigned.filter((name) => !READ.includes(name))).toEqual([]);
  });

  it('leaves every secret blank', () => {
    const values = parseEnv(TEXT);
    for (const name of SECRETS) expect(values[name], name).toBe('');
  });

  it('is itself a valid environment: copied to .env unchanged, it passes the env schema', () => {
    expect(envSchema.safeParse(parseEnv(TEXT)).success).toBe(true);
  });

  it('names the cloud SDK variables of each default credential chain, all commented out', () => {
    for (const name of ['AWS_REGION', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'GOOGLE_APPLICATION_CREDENTIALS', 'GCE_METADATA_HOST', 'AZURE_CLIENT_ID', 'IDENTITY_ENDPOINT', 'AZURE_FEDERATED_TOKEN_FILE']) {
      expect(TEXT).toContain(`# ${name}=`);
    }
  });
});
