import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../src/config/args.ts';
import { envSchema } from '../../src/config/env.ts';
import { loadConfig } from '../../src/config/load.ts';
import { DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_SHUTDOWN_TIMEOUT_MS } from '../../src/config/schema.ts';
import { COMPOSE } from './compose.ts';

/**
 * The `replicas` profile of docker-compose.yml and its load balancer's configuration, checked
 * without Docker: against the configuration schema, each other, and HAProxy itself
 * (`haproxy -c`; `.ci/run` installs it). image-steps.test.ts runs a replica from the image.
 */

const HAPROXY_CFG = fileURLToPath(new URL('../../deploy/haproxy.cfg', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'tinkr-compose-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('docker-compose.yml, profile `replicas`', () => {
  const services = COMPOSE.services;
  const REPLICAS = ['replica-1', 'replica-2', 'replica-3'];
  const TEXT = readFileSync(HAPROXY_CFG, 'utf8');

  it('adds Redis, three replicas and a load balancer, all in the profile and only there', () => {
    expect(Object.entries(services).filter(([, s]) => s.profiles?.includes('replicas')).map(([name]) => name).sort()).toEqual(['lb', 'redis', ...REPLICAS]);
    expect(services.redis!.image).toMatch(/^redis:\d+(\.\d+)*-alpine$/);
    expect(services.lb!.image).toMatch(/^haproxy:\d+(\.\d+)*-alpine$/);
    for (const name of ['redis', 'lb', ...REPLICAS]) expect(services[name]!.read_only, name).toBe(true);
    expect(services.redis!.healthcheck!.test).toEqual(['CMD', 'redis-cli', 'ping']);
    // Bounded: a memory cap and an eviction policy; nothing written to disk.
    expect(services.redis!.command).toEqual(expect.arrayContaining(['--maxmemory', '--maxmemory-policy', '--save', '']));
  });

  it('runs each replica from the image with the server\'s environment plus TINKR_REDIS_URL, after a healthy simulator and Redis, reachable only through the balancer', () => {
    const empty = scratch;
    for (const name of REPLICAS) {
      const replica = services[name]!;
      expect(replica.build).toBe('.');
      expect(replica.image).toBe(services.server!.image);
      expect(replica.ports).toBeUndefined();
      expect(replica.depends_on).toEqual({ simulator: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } });
      const env = replica.environment!;
      expect(envSchema.safeParse(env).success).toBe(true);
      const { TINKR_REDIS_URL, ...rest } = env;
      expect(rest).toEqual(services.server!.environment);
      const config = loadConfig({ args: parseCommandLine([]), env, homeDir: empty, cwd: empty });
      expect(config.store).toMatchObject({ host: 'redis', port: 6379, db: 0, tls: false, password: undefined, keyPrefix: 'tinkr:' });
      expect(Number(/^(\d+)s$/.exec(replica.stop_grace_period ?? '')?.[1]) * 1000).toBeGreaterThan(DEFAULT_SHUTDOWN_TIMEOUT_MS);
    }
  });

  it('balances over exactly the three replicas, on their port, checking /readyz; only on loopback', () => {
    const servers = [...TEXT.matchAll(/^\s*server\s+(\S+)\s+(\S+):(\d+)\b/gm)].map((m) => ({ name: m[1], host: m[2], port: m[3] }));
    expect(servers).toEqual(REPLICAS.map((name) => ({ name, host: name, port: services[name]!.environment!.PORT })));
    expect(TEXT).toMatch(/^\s*option httpchk GET \/readyz$/m);
    expect(TEXT).toMatch(/^\s*bind :8080$/m);
    expect(services.lb!.ports).toEqual(['127.0.0.1:8080:8080']);
    expect(services.lb!.volumes).toEqual(['./deploy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro']);
    expect(services.lb!.depends_on).toEqual(REPLICAS);
    // The balancer waits longer than the server's own deadline, so a slow answer is the server's 504.
    const timeout = Number(/^\s*timeout server (\d+)s$/m.exec(TEXT)?.[1]) * 1000;
    expect(timeout).toBeGreaterThan(DEFAULT_REQUEST_TIMEOUT_MS);
  });

  it('is a configuration HAProxy itself accepts (haproxy -c), and the check does catch a broken one', async () => {
    const check = (file: string) =>
      new Promise<{ code: number; output: string }>((resolve) => {
        execFile('haproxy', ['-c', '-f', file], { timeout: 30_000 }, (error, stdout, stderr) => {
          if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') throw new Error('haproxy is not installed: apt-get install haproxy (.ci/run does)');
          resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` });
        });
      });
    const good = await check(HAPROXY_CFG);
    expect(good.code, good.output).toBe(0);
    expect(good.output).toContain('Configuration file is valid');
    // The replicas' names resolve only inside the compose network; nothing else may warn.
    const warnings = good.output.split('\n').filter((l) => l.includes('[WARNING]'));
    expect(warnings.filter((l) => !/could not resolve address 'replica-\d'/.test(l))).toEqual([]);
    const broken = join(scratch, 'broken-haproxy.cfg');
    writeFileSync(broken, TEXT.replace('balance roundrobin', 'balance round-robin'));
    expect((await check(broken)).code).not.toBe(0);
  });
});
