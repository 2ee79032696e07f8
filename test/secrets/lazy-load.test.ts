import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedPort } from './fakes/server.ts';
import { runBootChild } from './helpers/child.ts';
import { offlineDefaults } from './helpers/env.ts';

/**
 * An env-only boot must not pay for three cloud SDKs. A fresh process records every module
 * it resolves (module.registerHooks) while it loads src/secrets, builds an env-only credential
 * store and creates one source per provider; only fetching may load an SDK. The fetches are the
 * positive control: they prove the recorder does see the SDKs when they load.
 */

let home: string;
beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'tinkr-lazy-home-'));
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('lazy SDK loading', () => {
  it('loads no SDK for an env-only boot or when creating sources, and each SDK on its first fetch', async () => {
    const port = await closedPort();
    const configs = {
      aws: { provider: 'aws', region: 'eu-west-1', secret: 'dd', endpoint: `http://127.0.0.1:${port}`, timeout_ms: 10_000 },
      gcp: { provider: 'gcp', project: 'tinkr-test-proj', secret: 'dd', endpoint: `http://127.0.0.1:${port}`, timeout_ms: 10_000 },
      azure: { provider: 'azure', vault_url: 'https://tinkr-test.vault.azure.net', secret: 'dd', endpoint: `https://127.0.0.1:${port}`, timeout_ms: 10_000 },
    };
    const result = await runBootChild('lazy', configs, offlineDefaults(home));
    expect(result.beforeFetch).toEqual([]);
    expect(result.afterFetch).toEqual(
      expect.arrayContaining(['@aws-sdk/client-secrets-manager', '@google-cloud/secret-manager', '@azure/keyvault-secrets', '@azure/identity']),
    );
    // Offline, every fetch fails, each with a boot error rather than a crash.
    const outcomes = result.outcomes as Array<{ ok: boolean; kind?: string }>;
    expect(outcomes.map((o) => [o.ok, typeof o.kind])).toEqual([
      [false, 'string'],
      [false, 'string'],
      [false, 'string'],
    ]);
    expect(result.violations).toEqual([]);
  });
});
