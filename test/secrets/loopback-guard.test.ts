import { get } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { startLoopbackServer } from './fakes/server.ts';
import { installLoopbackGuard, type LoopbackGuard } from './helpers/loopback-guard.ts';

/** The guard the provider tests rely on to prove nothing left loopback must itself catch a leak. */
describe('loopback guard', () => {
  let guard: LoopbackGuard | undefined;
  afterEach(() => guard?.uninstall());

  const request = (url: string) =>
    new Promise<string>((resolve) => {
      get(url, (res) => {
        res.resume();
        resolve(`status ${res.statusCode}`);
      }).on('error', (err) => resolve(`error ${err.message}`));
    });

  it('refuses and records a connection to a non-loopback address (IMDS)', async () => {
    guard = installLoopbackGuard();
    const outcome = await request('http://169.254.169.254/latest/meta-data/');
    expect(outcome).toContain('test guard: connection to non-loopback 169.254.169.254:80 refused');
    expect(guard.violations).toEqual(['169.254.169.254:80']);
  });

  it('lets loopback through', async () => {
    const server = await startLoopbackServer((_req, res) => {
      res.end('ok');
    });
    guard = installLoopbackGuard();
    try {
      expect(await request(`${server.url}/`)).toBe('status 200');
      expect(guard.violations).toEqual([]);
    } finally {
      await server.close();
    }
  });
});
