import { DEFAULT_DEMO_KEYS, type SimulatorOptions } from '@tinkr/datadog-simulator';
import pino from 'pino';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { systemClock, type Clock } from '../../src/clock.ts';
import type { ApiKeyConfig } from '../../src/config/schema.ts';
import { createDatadogTransport } from '../../src/datadog/client.ts';
import { createCredentialStore, type CredentialProvider } from '../../src/secrets/store.ts';
import { noTelemetry, type Telemetry } from '../../src/telemetry/telemetry.ts';
import type { Engine } from '../../src/upstream/answer.ts';
import { createUpstreamPipeline, DEFAULT_UPSTREAM_POLICY, type UpstreamPolicy } from '../../src/upstream/pipeline.ts';
import type { RefreshLog } from '../../src/upstream/refresh.ts';
import type { RetryPolicy } from '../../src/upstream/retry.ts';
import { startApp, TEST_REQUEST_TIMEOUT_MS, type AppOverrides, type TestApp } from './app.ts';
import { eventually } from './eventually.ts';
import { ManualClock, TEST_NOW } from './manual-clock.ts';
import { startTestSimulator, type TestSimulator } from './simulator.ts';

/** Quick retries so fault tests do not wait on production backoff. */
export const FAST_RETRY: RetryPolicy = { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 };

export interface Stack {
  sim: TestSimulator;
  app: TestApp;
  /** The real engine, for looking inside (flights, waiters, queue, refreshes, cache size). */
  engine: Engine;
  /**
   * Waits until no background refresh is in flight. A test that counts Datadog calls or arms
   * faults on a stack shared with earlier tests waits first, so an earlier test's refresh is
   * neither counted nor handed its fault.
   */
  settle(): Promise<void>;
  close(): Promise<void>;
}

export interface StackOptions {
  clock?: Clock;
  simulator?: Omit<SimulatorOptions, 'validateRequest' | 'clock'>;
  /** Defaults to the simulator's demo keys, fixed for the life of the stack. */
  credentials?: CredentialProvider;
  retry?: RetryPolicy;
  /** Cache, budget and concurrency settings; the production defaults unless given. */
  policy?: UpstreamPolicy;
  /** Jitter source of the pipeline; default no jitter, so reset times are exact. */
  random?: () => number;
  keys?: ApiKeyConfig[];
  telemetry?: Telemetry;
  server?: AppOverrides;
  /** Where the engine reports failed background refreshes. */
  log?: RefreshLog;
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
  const engine = createUpstreamPipeline({
    transport,
    credentials,
    clock,
    telemetry: options.telemetry ?? noTelemetry,
    retry: options.retry ?? FAST_RETRY,
    baseUrl: sim.url,
    requestTimeoutMs: TEST_REQUEST_TIMEOUT_MS,
    policy: options.policy ?? DEFAULT_UPSTREAM_POLICY,
    random: options.random ?? (() => 0),
    ...(options.log ? { log: options.log } : {}),
  });
  const app = await startApp({
    engine,
    clock,
    maxPages: (options.policy ?? DEFAULT_UPSTREAM_POLICY).maxPages,
    ...(options.keys ? { auth: { mode: 'keys', keys: options.keys } } : {}),
    ...(options.telemetry ? { telemetry: options.telemetry } : {}),
    ...options.server,
  });
  return {
    sim,
    app,
    engine,
    settle: () => eventually(() => engine.inspect().refreshes === 0, 'background refreshes are done'),
    async close() {
      await app.close();
      await transport.close();
      await sim.close();
    },
  };
}

export interface SharedStackOptions extends Omit<StackOptions, 'clock'> {
  /** What to undo after each test besides the check: the clock back at TEST_NOW, armed faults, injected bursts (error and latency). */
  reset?: { clock?: boolean; faults?: boolean; bursts?: boolean };
}

/**
 * One stack for all the tests of a file, on a ManualClock at TEST_NOW: started before the first
 * test, closed after the last, and after each test checked that no request it sent broke
 * Datadog's spec (then `reset` is applied). The stack returned stands for the one started, so a
 * file declares it once at the top.
 */
export function sharedStack(options: SharedStackOptions = {}): { clock: ManualClock; stack: Stack } {
  const { reset = {}, ...stackOptions } = options;
  const clock = new ManualClock(TEST_NOW);
  let started: Stack | undefined;
  const current = (): Stack => {
    if (started === undefined) throw new Error('the shared stack is used outside a test (it starts in beforeAll)');
    return started;
  };
  beforeAll(async () => {
    started = await startStack({ ...stackOptions, clock });
  });
  afterAll(() => started?.close());
  afterEach(() => {
    current().sim.assertNoViolations();
    if (reset.faults) current().sim.faults.clear();
    if (reset.bursts) {
      current().sim.bursts.clear();
      current().sim.latencyBursts.clear();
    }
    if (reset.clock) clock.set(TEST_NOW);
  });
  const stack: Stack = {
    get sim() {
      return current().sim;
    },
    get app() {
      return current().app;
    },
    get engine() {
      return current().engine;
    },
    settle: () => current().settle(),
    close: () => current().close(),
  };
  return { clock, stack };
}
