import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/auth/keyring.ts';
import { parseCommandLine } from '../../src/config/args.ts';
import { envSchema } from '../../src/config/env.ts';
import { loadConfig } from '../../src/config/load.ts';
import { DEFAULT_SHUTDOWN_TIMEOUT_MS } from '../../src/config/schema.ts';
import { DEMO_TOKEN } from '../../src/demo.ts';
import { DEFAULT_DEMO_KEYS } from '../../src/simulator/index.ts';
import { eventually } from '../helpers/eventually.ts';
import { SHIPPED_RUNTIME_ENV } from '../../bench/lib/runtime.ts';
import { freePort } from '../helpers/free-port.ts';
import { scrape, valueOf } from '../helpers/prometheus.ts';
import { untilReady } from '../helpers/ready.ts';
import { startTestRedis } from '../helpers/redis-server.ts';
import { COMPOSE } from './compose.ts';
import { inBuildContext, parseCopy, parseDockerfile, parseEnv, parseHealthcheck } from './dockerfile.ts';

/**
 * No Docker engine runs here, so this replays the Dockerfile instruction by instruction: the
 * build stage compiles `src` (with the repo's dev dependencies standing in for the stage's own
 * `npm ci`: one install per test run), the runtime stage gets a clean `npm ci --omit=dev` and
 * `dist/`, then the image's ENTRYPOINT and HEALTHCHECK run verbatim against the simulator
 * started as docker-compose.yml starts it. An instruction it cannot replay fails the test.
 */

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const DOCKERFILE = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
const DOCKERIGNORE = readFileSync(join(REPO, '.dockerignore'), 'utf8');
/** npm ci downloads (or reads its cache), tsc compiles: minutes on a shared, cold machine. */
const INSTALL_TIMEOUT_MS = 300_000;
/** npm must run on Node 24 (the machine's own Node may be older); the project's node goes first on PATH. */
const PATH_WITH_NODE_24 = `${dirname(process.execPath)}:${process.env.PATH ?? ''}`;
/**
 * This machine's npm settings, not the image's steps (the command lines stay verbatim): no audit
 * or funding round trips, and cached tarballs first. Each npm ci is then ~10 s instead of minutes.
 */
const NPM_QUIET = { npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', npm_config_prefer_offline: 'true' };
/**
 * How this machine reaches the npm registry (a proxy, its CA, a mirror), passed through when set:
 * a docker build here would need the same, and without them a package missing from the cache
 * cannot be fetched.
 */
const NETWORK_ENV = Object.fromEntries(
  ['NODE_EXTRA_CA_CERTS', 'HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy', 'npm_config_registry', 'npm_config_cafile']
    .map((name) => [name, process.env[name]])
    .filter((entry): entry is [string, string] => entry[1] !== undefined),
);

interface Image {
  /** The runtime stage's /app. */
  app: string;
  env: Record<string, string>;
  user: string | undefined;
  entrypoint: string[];
  healthcheck: { options: Record<string, string>; command: string[] };
}

let root: string;
let image: Image;

function run(command: string, args: string[], cwd: string, env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, env: { PATH: PATH_WITH_NODE_24, HOME: process.env.HOME ?? '', ...NETWORK_ENV, ...NPM_QUIET, ...env }, maxBuffer: 16 * 1024 * 1024 }, (error, _stdout, stderr) =>
      error ? reject(new Error(`${command} ${args.join(' ')} failed: ${stderr.slice(-3000)}`)) : resolve(),
    );
  });
}

/** Replays the Dockerfile; each stage's WORKDIR /app is a directory under `root`. */
async function buildImage(): Promise<Image> {
  const stages: Record<string, string> = {};
  let stage = '';
  let dir = '';
  let env: Record<string, string> = {};
  let user: string | undefined;
  let entrypoint: string[] = [];
  let healthcheck: Image['healthcheck'] | undefined;
  const inStage = (path: string) => join(dir, path);

  for (const { keyword, args, line } of parseDockerfile(DOCKERFILE)) {
    const where = `Dockerfile:${line} ${keyword} ${args}`;
    switch (keyword) {
      case 'ARG':
      case 'EXPOSE':
        break;
      case 'FROM': {
        stage = /\sAS\s+(\S+)$/i.exec(args)?.[1] ?? `stage${Object.keys(stages).length}`;
        dir = join(root, stage);
        mkdirSync(dir, { recursive: true });
        stages[stage] = dir;
        env = {};
        user = undefined;
        break;
      }
      case 'WORKDIR':
        expect(args, where).toBe('/app');
        break;
      case 'ENV':
        Object.assign(env, parseEnv(args));
        break;
      case 'COPY': {
        const { from, sources, dest } = parseCopy(args);
        for (const source of sources) {
          let origin: string;
          if (from !== undefined) {
            expect(source.startsWith('/app/'), where).toBe(true);
            origin = join(stages[from]!, source.slice('/app/'.length));
          } else {
            expect(inBuildContext(DOCKERIGNORE, source), `${where}: ${source} is excluded by .dockerignore`).toBe(true);
            origin = join(REPO, source);
          }
          const target = dest.endsWith('/') ? inStage(join(dest, source.split('/').at(-1)!)) : inStage(dest);
          cpSync(origin, target, {
            recursive: true,
            // What .dockerignore keeps out of the context never reaches the image.
            filter: (path) => from !== undefined || inBuildContext(DOCKERIGNORE, relative(REPO, path)),
          });
        }
        break;
      }
      case 'RUN':
        for (const command of args.split('&&').map((c) => c.trim())) {
          if (/^npm ci\b/.test(command) && stage === 'build') {
            // Stands in for the build stage's full install: the repo's own node_modules.
            expect(command, where).toBe('npm ci --ignore-scripts');
            symlinkSync(join(REPO, 'node_modules'), inStage('node_modules'), 'dir');
          } else if (/^npm ci\b/.test(command)) {
            await run('npm', command.split(/\s+/).slice(1), dir, env);
          } else if (command === 'npm run build') {
            await run('npm', ['run', 'build'], dir, env);
          } else if (/^npm cache clean\b/.test(command)) {
            // Would clear this machine's npm cache; it only keeps the image small.
          } else {
            throw new Error(`${where}: this test does not know how to replay "${command}"`);
          }
        }
        break;
      case 'USER':
        user = args;
        break;
      case 'HEALTHCHECK':
        healthcheck = parseHealthcheck(args);
        break;
      case 'ENTRYPOINT':
        entrypoint = JSON.parse(args) as string[];
        break;
      default:
        throw new Error(`${where}: this test does not know how to replay ${keyword}`);
    }
  }
  expect(healthcheck, 'a HEALTHCHECK').toBeDefined();
  return { app: dir, env, user, entrypoint, healthcheck: healthcheck! };
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'tinkr-image-'));
  image = await buildImage();
}, INSTALL_TIMEOUT_MS);
// Removing the replayed install (tens of thousands of files) takes as long as the machine is
// busy; it is cleanup, so it gets the install's bound rather than the default hook timeout.
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
}, INSTALL_TIMEOUT_MS);

/** `node` in an exec-form command is the image's Node 24: here, this one. */
const node = (argv: string[]): [string, string[]] => [argv[0] === 'node' ? process.execPath : argv[0]!, argv.slice(1)];

function start(argv: string[], env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const [command, args] = node(argv);
  const child = spawn(command, args, { cwd: image.app, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (c) => (output += String(c)));
  child.stderr!.on('data', (c) => (output += String(c)));
  return { child, output: () => output };
}

function exitCode(argv: string[], env: Record<string, string>): Promise<number | null> {
  const [command, args] = node(argv);
  return new Promise((resolve) => {
    execFile(command, args, { cwd: image.app, env, timeout: 30_000 }, (error) => resolve(error ? ((error as { code?: number }).code ?? 1) : 0));
  });
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
    expect(dist).toContain(join('simulator', 'main.js'));
    expect(dist.filter((f) => /(^|\/)test\/|\.test\.|\.spec\./.test(f))).toEqual([]);
    expect(dist.filter((f) => !/\.js(\.map)?$/.test(f))).toEqual([]);
    expect(image.entrypoint).toEqual(['node', 'dist/bin.js']);
  });

  it('keeps the build context to what the image needs (.dockerignore)', () => {
    for (const path of ['package.json', 'package-lock.json', 'tsconfig.json', 'src/main.ts', 'scripts/check-node.mjs']) {
      expect(inBuildContext(DOCKERIGNORE, path), path).toBe(true);
    }
    for (const path of ['node_modules', 'dist/main.js', '.env', '.git', 'test/boot.test.ts', 'bench/run.ts', 'README.md', 'src/simulator/README.md']) {
      expect(inBuildContext(DOCKERIGNORE, path), path).toBe(false);
    }
  });
});

describe('docker-compose.yml', () => {
  const { simulator, server } = COMPOSE.services;

  it('runs the server and the simulator from the one image, read-only, server after a healthy simulator', () => {
    // `docker compose up` starts the services of no profile.
    expect(Object.entries(COMPOSE.services).filter(([, s]) => !s.profiles).map(([name]) => name).sort()).toEqual(['server', 'simulator']);
    for (const service of [simulator!, server!]) {
      expect(service.build).toBe('.');
      expect(service.read_only).toBe(true);
    }
    expect(simulator!.image).toBe(server!.image);
    expect(server!.depends_on).toEqual({ simulator: { condition: 'service_healthy' } });
    expect(simulator!.healthcheck!.test[0]).toBe('CMD');
    expect(server!.healthcheck).toBeUndefined(); // the image's HEALTHCHECK applies
    expect(server!.ports!.every((p) => p.startsWith('127.0.0.1:'))).toBe(true);
    // docker stop must wait longer than the drain.
    expect(Number(/^(\d+)s$/.exec(server!.stop_grace_period ?? '')?.[1]) * 1000).toBeGreaterThan(DEFAULT_SHUTDOWN_TIMEOUT_MS);
  });

  it('points both commands at files the image has', () => {
    expect(existsSync(join(image.app, image.entrypoint[1]!))).toBe(true);
    expect(simulator!.entrypoint![0]).toBe('node');
    expect(existsSync(join(image.app, simulator!.entrypoint![1]!))).toBe(true);
  });

  it("gives the server an environment our schema accepts: the simulator's demo keys, the demo token, the simulator's address", () => {
    const env = server!.environment!;
    expect(envSchema.safeParse(env).success).toBe(true);
    const empty = mkdtempSync(join(root, 'empty-'));
    const config = loadConfig({ args: parseCommandLine([]), env, homeDir: empty, cwd: empty });
    expect(config.datadog.credentials).toEqual({ kind: 'static', ...DEFAULT_DEMO_KEYS });
    expect(config.auth.keys.map((k) => k.hash)).toEqual([sha256Hex(DEMO_TOKEN)]);
    expect(config.datadog.apiUrl).toBe(`http://simulator:${simulator!.environment!.SIM_PORT}`);
    expect(config.listen.port).toBe(8000);
    expect(config.metricsPort).toBe(9464);
  });
});

describe('the image at run time', () => {
  it('serves /healthz and a real query in front of the simulator, passes its HEALTHCHECK, writes nothing, exits 0 on SIGTERM', async () => {
    const before = snapshot(image.app);
    const home = mkdtempSync(join(root, 'home-'));
    const tmp = mkdtempSync(join(root, 'tmp-'));
    const base = { PATH: process.env.PATH ?? '', HOME: home, TMPDIR: tmp, ...image.env };

    // The simulator exactly as compose starts it, on loopback and a free port instead.
    const sim = COMPOSE.services.simulator!;
    const simArgs = [...sim.entrypoint!, ...sim.command!.map((a) => (a === '0.0.0.0' ? '127.0.0.1' : a))];
    const simulator = start(simArgs, { ...base, ...sim.environment, SIM_PORT: '0' });
    await eventually(() => /listening on http:\/\/\S+/.test(simulator.output()), 'the simulator listens', 30_000);
    const simUrl = /listening on (http:\/\/\S+)/.exec(simulator.output())![1]!;
    const simHealth = sim.healthcheck!.test.slice(1);
    expect(await exitCode(simHealth, { ...base, SIM_PORT: new URL(simUrl).port })).toBe(0);

    const metricsPort = await freePort();
    const env = { ...base, ...COMPOSE.services.server!.environment, DD_API_URL: simUrl, HOST: '127.0.0.1', PORT: '0', TINKR_METRICS_PORT: String(metricsPort) };
    const server = start(image.entrypoint, env);
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
    expect(image.healthcheck.options).toMatchObject({ interval: '30s', timeout: '3s' });
    expect(await exitCode(image.healthcheck.command, { ...env, PORT: port })).toBe(0);
    expect(await exitCode(image.healthcheck.command, { ...env, PORT: String(await freePort()) })).toBe(1);

    const logs = await fetch(`${url}/logs?service=checkout&since=15m&limit=3`, { headers: { authorization: `Bearer ${DEMO_TOKEN}` } });
    expect(logs.status).toBe(200);
    expect(((await logs.json()) as { data: unknown[] }).data).toHaveLength(3);
    expect((await fetch(`${url}/docs/`)).status).toBe(200);
    expect(valueOf(await scrape(`http://127.0.0.1:${metricsPort}/metrics`), 'tinkr_http_requests_total', { route: '/logs', status: '200' })).toBe(1);

    server.child.kill('SIGTERM');
    expect(await exited).toEqual([0, null]);
    simulator.child.kill('SIGTERM');
    expect(await once(simulator.child, 'exit')).toEqual([0, null]);

    // Read-only root filesystem in mind: nothing under /app, $HOME or $TMPDIR was written.
    expect(snapshot(image.app)).toEqual(before);
    expect(readdirSync(home)).toEqual([]);
    expect(readdirSync(tmp)).toEqual([]);
    expect(server.output()).not.toMatch(/dede0000|tinkr-demo-token/);
  });

  it('runs a replica of the `replicas` profile: it shares through Redis (/readyz "store": "ok") and serves', async () => {
    const redis = await startTestRedis();
    const home = mkdtempSync(join(root, 'home-'));
    const base = { PATH: process.env.PATH ?? '', HOME: home, TMPDIR: mkdtempSync(join(root, 'tmp-')), ...image.env };
    const sim = COMPOSE.services.simulator!;
    const simulator = start([...sim.entrypoint!, '--host', '127.0.0.1'], { ...base, SIM_PORT: '0' });
    try {
      await eventually(() => /listening on http:\/\/\S+/.test(simulator.output()), 'the simulator listens', 30_000);
      const simUrl = /listening on (http:\/\/\S+)/.exec(simulator.output())![1]!;
      // replica-1 exactly as compose starts it, with the addresses of this machine's simulator and Redis.
      const env = { ...base, ...COMPOSE.services['replica-1']!.environment, DD_API_URL: simUrl, TINKR_REDIS_URL: redis.url, HOST: '127.0.0.1', PORT: '0', TINKR_METRICS_PORT: '0' };
      const replica = start(image.entrypoint, env);
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
