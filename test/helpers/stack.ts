import pino from 'pino';
import { systemClock, type Clock } from '../../src/clock.ts';
import type { ApiKeyConfig } from '../../src/config/schema.ts';
import { createDatadogTransport } from '../../src/datadog/transport.ts';
import { createCredentialStore, type CredentialProvider } from '../../src/secrets/store.ts';
import type { ServerDeps } from '../../src/server.ts';
import { DEFAULT_DEMO_KEYS, type SimulatorOptions } from '../../src/simulator/index.ts';
import { noTelemetry, type Telemetry } from '../../src/telemetry.ts';
import { createUpstreamPipeline } from '../../src/upstream/pipeline.ts';
import type { RetryPolicy } from '../../src/upstream/retry.ts';
import { startApp, type TestApp } from './app.ts';
import { startTestSimulator, type TestSimulator } from './simulator.ts';

/** Quick retries so fault tests do not wait on production backoff. */
export const FAST_RETRY: RetryPolicy = { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 };

export interface Stack {
  sim: TestSimulator;
  app: TestApp;
  close(): Promise<void>;
}

export interface StackOptions {
  clock?: Clock;
  simulator?: Omit<SimulatorOptions, 'validateRequest' | 'clock'>;
  /** Defaults to the simulator's demo keys, fixed for the life of the stack. */
  credentials?: CredentialProvider;
  retry?: RetryPolicy;
  keys?: ApiKeyConfig[];
  telemetry?: Telemetry;
  server?: Partial<ServerDeps>;
}

/**
 * The whole product on loopback: the Datadog simulator (validating every request against
 * Datadog's OpenAPI subset), the real upstream pipeline and transport, and the real server.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const clock = options.clock ?? systemClock;
  const sim = await startTestSimulator({ ...options.simulator, clock });
  const transport = createDatadogTransport({ baseUrl: sim.url, userAgent: 'tinkr-server-test' });
  const credentials =
    options.credentials ??
    createCredentialStore({ initial: { ...DEFAULT_DEMO_KEYS }, clock, timeoutMs: 0, log: pino({ level: 'silent' }) });
  const upstream = createUpstreamPipeline({
    transport,
    credentials,
    clock,
    telemetry: options.telemetry ?? noTelemetry,
    retry: options.retry ?? FAST_RETRY,
  });
  const app = await startApp({
    upstream,
    clock,
    ...(options.keys ? { auth: { mode: 'keys', keys: options.keys } } : {}),
    ...(options.telemetry ? { telemetry: options.telemetry } : {}),
    ...options.server,
  });
  return {
    sim,
    app,
    async close() {
      await app.close();
      await transport.close();
      await sim.close();
    },
  };
}
