import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { DEFAULT_DEMO_KEYS } from '@tinkr/datadog-simulator';
import { sha256Hex } from '../../src/auth/keyring.ts';
import { startServer, type Running } from '../../src/boot.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/logging.ts';

/**
 * The real server, started the way `tinkr-server` starts from the environment (loadConfig →
 * startServer), in front of a simulator. Going through loadConfig means every setting the
 * server gains later (cache, budget, guards) runs at its shipped default here too.
 */

export interface Gateway extends Running {
  /** One bearer token per caller, in order. */
  tokens: readonly string[];
}

/** Callers with their own token; bounded because each is a key the server hashes at boot. */
export const MAX_GATEWAY_CALLERS = 1_000;
/** Longest wait for the server to report ready (Datadog accepted its keys): a bound, generous for a busy machine. */
const READY_TIMEOUT_MS = 60_000;
/** How often readiness is polled meanwhile. */
const READY_POLL_MS = 20;

export interface GatewayOptions {
  /** A shared store (`TINKR_REDIS_URL`): the gateway is then one replica of a fleet. */
  redisUrl?: string;
}

export async function startGateway(simulatorUrl: string, callers = 1, options: GatewayOptions = {}): Promise<Gateway> {
  if (!Number.isInteger(callers) || callers < 1 || callers > MAX_GATEWAY_CALLERS) {
    throw new RangeError(`callers must be an integer in 1..${MAX_GATEWAY_CALLERS}, got ${callers}`);
  }
  // Bench tokens guard simulated data on loopback only.
  const tokens = Array.from({ length: callers }, (_, i) => `tinkr-bench-caller-${i}`);
  const keys = tokens.map((token, i) => ({ hash: sha256Hex(token), subject: `dashboard-${i}`, roles: ['viewer'] }));
  // An empty home: a developer's own ~/.tinkr/config.toml must not change the benchmark.
  const home = mkdtempSync(join(tmpdir(), 'tinkr-bench-home-'));
  try {
    const config = loadConfig({
      args: { command: 'serve', help: false, version: false, check: false, host: '127.0.0.1', port: 0 },
      env: {
        TINKR_BACKEND: 'datadog',
        DD_API_KEY: DEFAULT_DEMO_KEYS.apiKey,
        DD_APP_KEY: DEFAULT_DEMO_KEYS.appKey,
        DD_API_URL: simulatorUrl,
        TINKR_API_KEYS: JSON.stringify(keys),
        // No self-metrics listener: the benchmark reads counts at the simulators.
        TINKR_METRICS_PORT: '0',
        ...(options.redisUrl ? { TINKR_REDIS_URL: options.redisUrl } : {}),
      },
      homeDir: home,
      cwd: home,
    });
    // Access logs are written as in production (info level) but thrown away: their cost is
    // part of the server's overhead, their text would drown the report.
    const logger = createLogger('info', discard());
    const running = await startServer(config, { logger });
    try {
      await untilReady(running.url);
    } catch (error) {
      await running.close();
      throw error;
    }
    return { ...running, tokens };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/**
 * Resolves once `/readyz` answers 200: the boot key check (one validate, one metrics query) is
 * over before any measured traffic, so it never counts as traffic.
 */
async function untilReady(url: string): Promise<void> {
  const give = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const res = await fetch(`${url}/readyz`);
    await res.body?.cancel();
    if (res.status === 200) return;
    if (Date.now() > give) throw new Error(`the gateway at ${url} did not report ready within ${READY_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
  }
}

function discard(): Writable {
  return new Writable({
    write(_chunk, _encoding, done) {
      done();
    },
  });
}
