import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DEMO_KEYS } from '@tinkr/datadog-simulator';
import { sha256Hex } from '../../src/auth/keyring.ts';
import { parseCommandLine } from '../../src/config/args.ts';
import { envSchema } from '../../src/config/env.ts';
import { EXIT } from '../../src/config/errors.ts';
import { loadConfig } from '../../src/config/load.ts';
import { DEFAULT_SHUTDOWN_TIMEOUT_MS } from '../../src/config/schema.ts';
import { DEMO_TOKEN, SIMULATOR_PACKAGE } from '../../src/demo.ts';
import { eventually } from '../helpers/eventually.ts';
import { SHIPPED_RUNTIME_ENV } from '../../bench/lib/runtime.ts';
import { freePort } from '../helpers/free-port.ts';
import { scrape, valueOf } from '../helpers/prometheus.ts';
import { untilReady } from '../helpers/ready.ts';
import { startTestRedis } from '../helpers/redis-server.ts';
import { COMPOSE } from './compose.ts';
import { inBuildContext } from './dockerfile.ts';
import { DOCKERIGNORE, INSTALL_TIMEOUT_MS, REPO, replayDockerfile, type Image } from './replay.ts';

/**
 * The Dockerfile replayed outside Docker (replay.ts): the server's image gets a clean
 * `npm ci --omit=dev` and `dist/`, the simulator's image its package; then each image's
 * ENTRYPOINT and HEALTHCHECK run verbatim, the simulator as docker-compose.yml starts it.
 */

let root: string;
/** The server: the last stage, what `docker build .` (and compose's `build: .`) makes. */
let image: Image;
/** The Datadog simulator: `--target simulator`. */
let simImage: Image;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'tinkr-image-'));
  const replayed = await replayDockerfile(root);
  image = replayed.stages[replayed.default]!;
  simImage = replayed.stages.simulator!;
  expect(replayed.default).toBe('runtime');
  expect(simImage, 'a `simulator` stage').toBeDefined();
}, INSTALL_TIMEOUT_MS);
// Removing the replayed install (tens of thousands of files) takes as long as the machine is
// busy; it is cleanup, so it gets the install's bound rather than the default hook timeout.
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
}, INSTALL_TIMEOUT_MS);

/** `node` in an exec-form command is the image's Node 24: here, this one. */
const node = (argv: string[]): [string, string[]] => [argv[0] === 'node' ? process.execPath : argv[0]!, argv.slice(1)];

function start(from: Image, argv: string[], env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const [command, args] = node(argv);
  const child = spawn(command, args, { cwd: from.app, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (c) => (output += String(c)));
  child.stderr!.on('data', (c) => (output += String(c)));
  return { child, output: () => output };
}

function exitCode(from: Image, argv: string[], env: Record<string, string>): Promise<number | null> {
  return finished(from, argv, env).then((r) => r.code);
}

function finished(from: Image, argv: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const [command, args] = node(argv);
  return new Promise((resolve) => {
    execFile(command, args, { cwd: from.app, env, timeout: 30_000 }, (error, _stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stderr: String(stderr) }),
    );
  });
}

/** The simulator's image started as compose starts it, on loopback and a free port instead; resolves to its URL. */
async function startSimulatorImage(base: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const simulator = start(simImage, simImage.entrypoint, { ...base, ...simImage.env, SIM_HOST: '127.0.0.1', SIM_PORT: '0' });
  await eventually(() => /listening on http:\/\/\S+/.test(simulator.output()), 'the simulator listens', 30_000);
  return { url: /listening on (http:\/\/\S+)/.exec(simulator.output())![1]!, child: simulator.child };
}

/** Every file under `dir` with its size and mtime, to prove nothing was written at run time. */
function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else {
        const s = statSync(path);
        files.set(relative(dir, path), `${s.size}:${s.mtimeMs}`);
      }
    }
  };
  walk(dir);
  return files;
}

const listFiles = (dir: string): string[] => [...snapshot(dir).keys()];

describe('the image (Dockerfile replayed)', () => {
  it('runs as a non-root user with only package.json, the lockfile, production node_modules and dist/', () => {
    expect(image.user).toBe('node');
    expect(image.healthcheck, 'a HEALTHCHECK').toBeDefined();
    expect(readdirSync(image.app).sort()).toEqual(['dist', 'node_modules', 'package-lock.json', 'package.json']);
    expect(image.env.NODE_ENV).toBe('production');
    // The benchmarks and the memory tests run the server with the image's runtime settings.
    expect(image.env).toMatchObject(SHIPPED_RUNTIME_ENV);

    const lock = JSON.parse(readFileSync(join(image.app, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const devOnly = Object.entries(lock.packages)
      .filter(([path, meta]) => path.startsWith('node_modules/') && meta.dev === true)
      .map(([path]) => path);
    expect(devOnly.length).toBeGreaterThan(50);
    expect(devOnly.filter((path) => existsSync(join(image.app, path)))).toEqual([]);
    for (const name of ['vitest', 'typescript', 'nock', 'autocannon', 'fast-check', 'node']) {
      expect(existsSync(join(image.app, 'node_modules', name)), name).toBe(false);
    }
    for (const name of ['fastify', 'prom-client', '@fastify/under-pressure', 'close-with-grace', 'ioredis']) {
      expect(existsSync(join(image.app, 'node_modules', name)), name).toBe(true);
    }
  });

  it('has a dist/ of compiled sources only: no tests, no TypeScript', () => {
    const dist = listFiles(join(image.app, 'dist'));
    expect(dist).toContain('bin.js');
    expect(dist).toContain('main.js');
    expect(dist.filter((f) => /(^|\/)test\/|\.test\.|\.spec\./.test(f))).toEqual([]);
    expect(dist.filter((f) => !/\.js(\.map)?$/.test(f))).toEqual([]);
    expect(image.entrypoint).toEqual(['node', 'dist/bin.js']);
  });

  it('holds none of the simulator: no package, no compiled copy, no file of its control API', () => {
    expect(existsSync(join(image.app, 'node_modules', SIMULATOR_PACKAGE))).toBe(false);
    expect(existsSync(join(image.app, 'node_modules', SIMULATOR_PACKAGE.split('/')[0]!))).toBe(false);
    const files = listFiles(image.app);
    expect(files.filter((f) => /simulator/i.test(f))).toEqual([]);
    // `/_sim/` is the simulator's control API (packages/simulator/src/control.ts); the server never names it.
    expect(files.filter((f) => f.startsWith('dist/') && f.endsWith('.js') && readFileSync(join(image.app, f), 'utf8').includes('/_sim/'))).toEqual([]);
  });

  it('answers `demo` with what to do instead: exit 69, the simulator package is not installed', async () => {
    const home = mkdtempSync(join(root, 'home-'));
    const result = await finished(image, [...image.entrypoint, 'demo'], { PATH: process.env.PATH ?? '', HOME: home, ...image.env });
    expect(result.code).toBe(EXIT.unavailable);
    expect(result.stderr).toBe(
      `tinkr-server: the demo needs the simulator package (${SIMULATOR_PACKAGE}), which a production install omits; run it from a clone of the repository: npm ci, then npm run demo\n`,
    );
  });

  it('keeps the build context to what the images need (.dockerignore)', () => {
    for (const path of ['package.json', 'package-lock.json', 'tsconfig.json', 'src/main.ts', 'scripts/check-node.mjs', 'packages/simulator/package.json', 'packages/simulator/src/main.ts']) {
      expect(inBuildContext(DOCKERIGNORE, path), path).toBe(true);
    }
    for (const path of ['node_modules', 'dist/main.js', '.env', '.git', 'test/boot.test.ts', 'bench/run.ts', 'README.md', 'packages/simulator/README.md']) {
      expect(inBuildContext(DOCKERIGNORE, path), path).toBe(false);
    }
  });
});

describe('the simulator image (`--target simulator`)', () => {
  it('holds the simulator package only (its manifest and sources), runs as a non-root user, listens on every interface', () => {
    expect(simImage.user).toBe('node');
    expect(readdirSync(simImage.app).sort()).toEqual(['package.json', 'src']);
    const sources = (dir: string) => listFiles(dir).sort();
    expect(sources(join(simImage.app, 'src'))).toEqual(sources(join(REPO, 'packages/simulator/src')));
    expect(JSON.parse(readFileSync(join(simImage.app, 'package.json'), 'utf8')).name).toBe(SIMULATOR_PACKAGE);
    expect(simImage.entrypoint).toEqual(['node', 'src/main.ts']);
    expect(existsSync(join(simImage.app, simImage.entrypoint[1]!))).toBe(true);
    expect(simImage.env).toEqual({ SIM_HOST: '0.0.0.0', SIM_PORT: '8126' });
    expect(simImage.healthcheck!.options).toMatchObject({ interval: '5s', timeout: '3s' });
  });
});

describe('docker-compose.yml', () => {
  const { simulator, server } = COMPOSE.services;

  it('runs the server and the simulator each from its own image, read-only, server after a healthy simulator', () => {
    // `docker compose up` starts the services of no profile.
    expect(Object.entries(COMPOSE.services).filter(([, s]) => !s.profiles).map(([name]) => name).sort()).toEqual(['server', 'simulator']);
    // The server's image is the Dockerfile's default (last) stage; the simulator's is its own target.
    expect(server!.build).toBe('.');
    expect(simulator!.build).toEqual({ context: '.', target: 'simulator' });
    expect(simulator!.image).not.toBe(server!.image);
    for (const service of [simulator!, server!]) expect(service.read_only).toBe(true);
    expect(server!.depends_on).toEqual({ simulator: { condition: 'service_healthy' } });
    // Both images' own HEALTHCHECKs apply, and their commands too.
    for (const service of [simulator!, server!]) {
      expect(service.healthcheck).toBeUndefined();
      expect(service.entrypoint).toBeUndefined();
      expect(service.command).toBeUndefined();
    }
    expect(simImage.healthcheck).toBeDefined();
    expect(server!.ports!.every((p) => p.startsWith('127.0.0.1:'))).toBe(true);
    // docker stop must wait longer than the drain.
    expect(Number(/^(\d+)s$/.exec(server!.stop_grace_period ?? '')?.[1]) * 1000).toBeGreaterThan(DEFAULT_SHUTDOWN_TIMEOUT_MS);
  });

  it('points the server at a file its image has', () => {
    expect(existsSync(join(image.app, image.entrypoint[1]!))).toBe(true);
  });

  it("gives the server an environment our schema accepts: the simulator's demo keys, the demo token, the simulator's address", () => {
    const env = server!.environment!;
    expect(envSchema.safeParse(env).success).toBe(true);
    const empty = mkdtempSync(join(root, 'empty-'));
    const config = loadConfig({ args: parseCommandLine([]), env, homeDir: empty, cwd: empty });
    expect(config.datadog.credentials).toEqual({ kind: 'static', ...DEFAULT_DEMO_KEYS });
    expect(config.auth.keys.map((k) => k.hash)).toEqual([sha256Hex(DEMO_TOKEN)]);
    expect(config.datadog.apiUrl).toBe(`http://simulator:${simImage.env.SIM_PORT}`);
    expect(config.listen.port).toBe(8000);
    expect(config.metricsPort).toBe(9464);
  });
});

describe('the image at run time', () => {
  it('serves /healthz and a real query in front of the simulator, passes both HEALTHCHECKs, writes nothing, exits 0 on SIGTERM', async () => {
    const before = snapshot(image.app);
    const simBefore = snapshot(simImage.app);
    const home = mkdtempSync(join(root, 'home-'));
    const tmp = mkdtempSync(join(root, 'tmp-'));
    const base = { PATH: process.env.PATH ?? '', HOME: home, TMPDIR: tmp };

    const simulator = await startSimulatorImage(base);
    const simUrl = simulator.url;
    // The simulator image's HEALTHCHECK, verbatim, inside its environment.
    const simEnv = { ...base, ...simImage.env, SIM_PORT: new URL(simUrl).port };
    expect(await exitCode(simImage, simImage.healthcheck!.command, simEnv)).toBe(0);
    expect(await exitCode(simImage, simImage.healthcheck!.command, { ...simEnv, SIM_PORT: String(await freePort()) })).toBe(1);

    const metricsPort = await freePort();
    const env = { ...base, ...image.env, ...COMPOSE.services.server!.environment, DD_API_URL: simUrl, HOST: '127.0.0.1', PORT: '0', TINKR_METRICS_PORT: String(metricsPort) };
    const server = start(image, image.entrypoint, env);
    const exited = once(server.child, 'exit');
    await eventually(() => server.output().includes('"msg":"listening"'), 'the server listens', 30_000);
    const listening = server
      .output()
      .split('\n')
      .map((l) => (l.startsWith('{') ? (JSON.parse(l) as Record<string, unknown>) : {}))
      .find((l) => l.msg === 'listening')!;
    const url = listening.url as string;
    const port = new URL(url).port;

    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    // The Dockerfile's HEALTHCHECK, verbatim, inside the container's environment.
    expect(image.healthcheck!.options).toMatchObject({ interval: '30s', timeout: '3s' });
    expect(await exitCode(image, image.healthcheck!.command, { ...env, PORT: port })).toBe(0);
    expect(await exitCode(image, image.healthcheck!.command, { ...env, PORT: String(await freePort()) })).toBe(1);

    const logs = await fetch(`${url}/logs?service=checkout&since=15m&limit=3`, { headers: { authorization: `Bearer ${DEMO_TOKEN}` } });
    expect(logs.status).toBe(200);
    expect(((await logs.json()) as { data: unknown[] }).data).toHaveLength(3);
    expect((await fetch(`${url}/docs/`)).status).toBe(200);
    expect(valueOf(await scrape(`http://127.0.0.1:${metricsPort}/metrics`), 'tinkr_http_requests_total', { route: '/logs', status: '200' })).toBe(1);

    server.child.kill('SIGTERM');
    expect(await exited).toEqual([0, null]);
    simulator.child.kill('SIGTERM');
    expect(await once(simulator.child, 'exit')).toEqual([0, null]);

    // Read-only root filesystem in mind: nothing under either /app, $HOME or $TMPDIR was written.
    expect(snapshot(image.app)).toEqual(before);
    expect(snapshot(simImage.app)).toEqual(simBefore);
    expect(readdirSync(home)).toEqual([]);
    expect(readdirSync(tmp)).toEqual([]);
    expect(server.output()).not.toMatch(/dede0000|tinkr-demo-token/);
  });

  it('runs a replica of the `replicas` profile: it shares through Redis (/readyz "store": "ok") and serves', async () => {
    const redis = await startTestRedis();
    const home = mkdtempSync(join(root, 'home-'));
    const base = { PATH: process.env.PATH ?? '', HOME: home, TMPDIR: mkdtempSync(join(root, 'tmp-')) };
    const simulator = await startSimulatorImage(base);
    try {
      const simUrl = simulator.url;
      // replica-1 exactly as compose starts it, with the addresses of this machine's simulator and Redis.
      const env = { ...base, ...image.env, ...COMPOSE.services['replica-1']!.environment, DD_API_URL: simUrl, TINKR_REDIS_URL: redis.url, HOST: '127.0.0.1', PORT: '0', TINKR_METRICS_PORT: '0' };
      const replica = start(image, image.entrypoint, env);
      const exited = once(replica.child, 'exit');
      await eventually(() => replica.output().includes('"msg":"listening"'), 'the replica listens', 30_000);
      const url = /"url":"(http:[^"]+)"/.exec(replica.output())![1]!;
      // Ready once the simulator has accepted the keys; the store is shared from the start.
      expect((await untilReady(url)).store).toBe('ok');
      const logs = await fetch(`${url}/logs?service=checkout&since=15m&limit=2`, { headers: { authorization: `Bearer ${DEMO_TOKEN}` } });
      expect(logs.status).toBe(200);
      expect(redis.cli('EXISTS', 'tinkr:cursor-key')).toBe('1');
      replica.child.kill('SIGTERM');
      expect(await exited).toEqual([0, null]);
    } finally {
      simulator.child.kill('SIGTERM');
      await once(simulator.child, 'exit');
      await redis.close();
    }
  });
});
