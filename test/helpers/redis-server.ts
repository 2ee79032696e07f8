import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { systemClock } from '../../src/clock.ts';
import { storeConfig, storeSchema } from '../../src/config/store.ts';
import { createRedisConnection, type RedisConnection } from '../../src/redis/connection.ts';
import { noTelemetry } from '../../src/telemetry/telemetry.ts';
import { eventually } from './eventually.ts';
import { freePort } from './free-port.ts';

/**
 * A real `redis-server` on a loopback port, started by the test (the Debian package
 * `redis-server`; `.ci/run` installs it). Nothing is saved to disk. The test can kill it, pause
 * it (SIGSTOP: a hung Redis that still holds its connections), resume it, and restart it on the
 * same port, empty. It is always killed: by `close()`, and at the latest when the test process
 * exits.
 */
export interface TestRedis {
  /** `redis://…` with the password when there is one. */
  readonly url: string;
  readonly port: number;
  readonly running: boolean;
  /** SIGKILL: connections drop at once, nothing is saved. */
  kill(): Promise<void>;
  /** SIGSTOP: the process hangs with its sockets open; commands get no answer. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** Starts a fresh, empty server on the same port (after `kill`). */
  restart(): Promise<void>;
  /** One command through redis-cli, for looking inside (`KEYS`, `TTL`, ...). */
  cli(...args: string[]): string;
  close(): Promise<void>;
}

export interface TestRedisOptions {
  password?: string;
  /** A port chosen beforehand (a test that points a server at Redis before Redis starts). */
  port?: number;
  /** TLS only, on this port's listener: `{ cert, key }` as PEM files. */
  tls?: { certFile: string; keyFile: string };
}

/**
 * `[store] timeout_ms` of tests that are not about the timeout itself. Production's 250 ms is
 * far above a Redis answer on an idle machine, but on a loaded shared CI machine a call can
 * stall for a second; a test must not see Redis "down" because of that.
 */
export const TEST_STORE_TIMEOUT_MS = 3_000;

/** Starting takes a few ms; a loaded, shared CI machine may take seconds. */
const START_TIMEOUT_MS = 20_000;
/** Another test may take the port between freePort() and the bind: try a few ports. */
const START_ATTEMPTS = 5;

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Resolves once something accepts TCP connections on the port (Redis listens once it is ready). */
async function listening(port: number, child: ChildProcess): Promise<boolean> {
  const give = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < give) {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return false;
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

export async function startTestRedis(options: TestRedisOptions = {}): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'tinkr-redis-'));
  let port = 0;
  let child: ChildProcess | undefined;
  let output = '';

  const args = (p: number) => [
    '--bind', '127.0.0.1',
    ...(options.tls ? ['--port', '0', '--tls-port', String(p), '--tls-cert-file', options.tls.certFile, '--tls-key-file', options.tls.keyFile, '--tls-auth-clients', 'no'] : ['--port', String(p)]),
    '--save', '', '--appendonly', 'no', '--dir', dir,
    ...(options.password ? ['--requirepass', options.password] : []),
  ];

  async function launch(p: number): Promise<boolean> {
    const started = spawn('redis-server', args(p), { stdio: ['ignore', 'pipe', 'pipe'] });
    started.stdout!.on('data', (c) => (output += String(c)));
    started.stderr!.on('data', (c) => (output += String(c)));
    started.on('error', (error) => (output += String(error)));
    live.add(started);
    started.once('exit', () => live.delete(started));
    if (await listening(p, started)) {
      child = started;
      return true;
    }
    started.kill('SIGKILL');
    return false;
  }

  for (let attempt = 0; ; attempt++) {
    port = options.port ?? (await freePort());
    if (await launch(port)) break;
    if (attempt + 1 >= START_ATTEMPTS) throw new Error(`redis-server did not start (is the Debian package redis-server installed?):\n${output.slice(-2000)}`);
  }

  const auth = options.password ? `:${encodeURIComponent(options.password)}@` : '';
  const kill = async () => {
    const current = child;
    child = undefined;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    const exited = once(current, 'exit');
    current.kill('SIGKILL');
    await exited;
  };
  return {
    url: `${options.tls ? 'rediss' : 'redis'}://${auth}127.0.0.1:${port}`,
    port,
    get running() {
      return child !== undefined;
    },
    kill,
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    async restart() {
      await kill();
      for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) if (await launch(port)) return;
      throw new Error(`redis-server did not restart on port ${port}:\n${output.slice(-2000)}`);
    },
    cli(...command) {
      const tls = options.tls ? ['--tls', '--insecure'] : [];
      const result = spawnSync('redis-cli', [...tls, '-h', '127.0.0.1', '-p', String(port), '--no-auth-warning', ...(options.password ? ['-a', options.password] : []), ...command], {
        encoding: 'utf8',
        timeout: 10_000,
      });
      return result.stdout.trim();
    },
    async close() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The server's own store connection to a test Redis (silent, on the system clock, every call
 * bounded by TEST_STORE_TIMEOUT_MS), returned once it is connected. The caller closes it.
 */
export async function connectTestStore(redis: TestRedis, keyPrefix?: string): Promise<RedisConnection> {
  const settings = storeSchema.parse({ ...(keyPrefix === undefined ? {} : { key_prefix: keyPrefix }), timeout_ms: TEST_STORE_TIMEOUT_MS });
  const connection = createRedisConnection(storeConfig(redis.url, settings)!, { log: pino({ level: 'silent' }), telemetry: noTelemetry, clock: systemClock });
  await eventually(() => connection.health.up, `connected to the test Redis on port ${redis.port}`, 15_000);
  return connection;
}
