import { DEFAULT_DEMO_KEYS } from '@tinkr/datadog-simulator';
import { sha256Hex } from '../../src/auth/keyring.ts';
import { startServer, type Running } from '../../src/boot.ts';
import type { Config } from '../../src/config/load.ts';
import { capturedLog, type CapturedLog } from './captured-log.ts';
import { configFromEnv } from './config.ts';
import { freePort } from './free-port.ts';
import { scrape, type Sample } from './prometheus.ts';
import { untilReady } from './ready.ts';

/**
 * Replicas of the real server as production starts them (environment → loadConfig →
 * startServer), each with its own logger and metrics port, all in front of one Datadog
 * simulator and, when `redisUrl` is given, one Redis. Each is returned once it reports ready.
 */

export const REPLICA_TOKEN = 'replica-test-token-5c1d';

export interface Replica {
  running: Running;
  log: CapturedLog;
  /** GET with the test token. */
  get(path: string, init?: RequestInit): Promise<Response>;
  metrics(): Promise<Sample[]>;
  /** Every word this replica wrote, for grepping secrets. */
  output(): string;
}

export interface ReplicaOptions {
  simUrl: string;
  redisUrl?: string;
  /** Quota of the test key; the default quota when absent. */
  quota?: { requests: number; per: string };
  /** More callers besides the test key; each token is `<subject>-token`. */
  subjects?: string[];
  /** Changes to the loaded configuration (request deadline, upstream policy, store settings). */
  adjust?: (config: Config) => Config;
}

export async function startReplica(options: ReplicaOptions): Promise<Replica> {
  const env: Record<string, string> = {
    DD_API_URL: options.simUrl,
    DD_API_KEY: DEFAULT_DEMO_KEYS.apiKey,
    DD_APP_KEY: DEFAULT_DEMO_KEYS.appKey,
    TINKR_API_KEYS: JSON.stringify([
      { hash: sha256Hex(REPLICA_TOKEN), subject: 'replicas', roles: ['viewer'], ...(options.quota ? { quota: options.quota } : {}) },
      ...(options.subjects ?? []).map((subject) => ({ hash: sha256Hex(`${subject}-token`), subject, roles: ['viewer'] })),
    ]),
    HOST: '127.0.0.1',
    PORT: '0',
    TINKR_METRICS_PORT: String(await freePort()),
    ...(options.redisUrl ? { TINKR_REDIS_URL: options.redisUrl } : {}),
  };
  const loaded = configFromEnv(env);
  const config = options.adjust ? options.adjust(loaded) : loaded;
  const log = capturedLog();
  const running = await startServer(config, { logger: log.logger });
  // Ready once Datadog (the simulator) has accepted the keys; Redis plays no part in that.
  await untilReady(running.url);
  return {
    running,
    log,
    get: (path, init) => fetch(running.url + path, { ...init, headers: { authorization: `Bearer ${REPLICA_TOKEN}`, ...(init?.headers as Record<string, string>) } }),
    metrics: () => scrape(running.metricsUrl!),
    output: () => log.text(),
  };
}

export async function startReplicas(count: number, options: ReplicaOptions): Promise<Replica[]> {
  const replicas: Replica[] = [];
  for (let i = 0; i < count; i++) replicas.push(await startReplica(options));
  return replicas;
}
