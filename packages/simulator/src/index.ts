import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock, type Clock } from './clock.ts';
import { handleControl, type ControlTarget } from './control.ts';
import { armedControls } from './data/armed-set.ts';
import { BurstSet, type ErrorBurst } from './data/bursts.ts';
import { LatencyBurstSet, type LatencyBurst } from './data/latency-bursts.ts';
import { simData } from './data/source.ts';
import { FaultQueue, type Fault } from './faults.ts';
import { send } from './http/io.ts';
import { ENDPOINTS, type Endpoint } from './http/reply.ts';
import { checkKeys, DEFAULT_DEMO_KEYS, type ApiKeys } from './keys.ts';
import { handleDatadogRequest, internalError, type PipelineState } from './pipeline.ts';
import { RateLimiter, type RateLimit } from './rate-limits.ts';
import { Recorder, type RecordedEndpoint, type RecordedRequest } from './recorder.ts';
import { createGroundTruth, type GroundTruth } from './truth.ts';

/**
 * A loopback Datadog simulator: the real wire format of logs search, spans search, metrics query
 * and the logs and spans aggregates over deterministic synthetic data, with Datadog's auth, rate
 * limits and error shapes, injectable faults, error and latency bursts, and a ground truth for tests. Used by the tests, `tinkr-server demo`,
 * docker compose and the benchmark.
 */

export { DEFAULT_DEMO_KEYS, type ApiKeys } from './keys.ts';
export { DEFAULT_RATE_LIMITS, RATE_LIMIT_NAMES, type RateLimit } from './rate-limits.ts';
export type { Fault } from './faults.ts';
export type { ErrorBurst } from './data/bursts.ts';
export type { LatencyBurst } from './data/latency-bursts.ts';
export { ENDPOINTS, type ApiEndpoint, type Endpoint } from './http/reply.ts';
export type { RecordedEndpoint, RecordedRequest } from './recorder.ts';
export type { GroundTruth, LogsTruthQuery, SpansTruthQuery, SampleTraceOptions, TimeInput } from './truth.ts';
export type { AggregateTruthQuery, AggregateTruthGroup } from './truth-aggregate.ts';
export type { LogEvent, SpanEvent, MetricsQueryResponse, MetricSeries, LogsStorageTier, SortOrder } from './wire.ts';
export { QUIRKY_SERVICE, SERVICE_NAMES } from './data/catalog.ts';
export { TRACE_PERIOD_MS } from './data/traces.ts';

export interface SimulatorOptions {
  /** Default 0 (any free port). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default the system clock. Drives data visibility ("now"), rate-limit periods and latency. */
  clock?: Clock;
  /** Default DEFAULT_DEMO_KEYS. */
  keys?: ApiKeys;
  /** Overrides of DEFAULT_RATE_LIMITS per endpoint family. */
  rateLimits?: Partial<Record<Endpoint, RateLimit>>;
  /**
   * Checks every recorded request (except `/_sim/`); a non-empty list of violations is recorded
   * with the request and answered 400 in the endpoint's error shape.
   */
  validateRequest?: (request: RecordedRequest) => string[];
}

export interface Simulator {
  /** `http://127.0.0.1:<port>`: the API base URL to give a Datadog client. */
  readonly url: string;
  close(): Promise<void>;
  /** The most recent requests (up to MAX_RECORDED_REQUESTS), oldest first. */
  readonly requests: readonly RecordedRequest[];
  /** Requests that failed `validateRequest` (the latest ones) and how many there were in all. */
  readonly invalidRequests: readonly RecordedRequest[];
  readonly invalidCount: number;
  /** Requests received per endpoint family (or in all) since start or resetRequests(). */
  callCount(endpoint?: RecordedEndpoint): number;
  resetRequests(): void;
  readonly faults: { add(fault: Fault): void; clear(): void; pending(): Fault[] };
  /** Injected error bursts (data/bursts.ts): searches, aggregates and the truth see them. */
  readonly bursts: { add(burst: ErrorBurst): void; clear(): void; list(): ErrorBurst[] };
  /** Injected latency bursts (data/latency-bursts.ts): span searches, span aggregates and the truth see them. */
  readonly latencyBursts: { add(burst: LatencyBurst): void; clear(): void; list(): LatencyBurst[] };
  setKeys(keys: ApiKeys): void;
  readonly keys: Readonly<ApiKeys>;
  readonly rateLimit: {
    get(endpoint: Endpoint): RateLimit;
    /** Changes a family's limit; spending under the old limit is forgotten. */
    set(endpoint: Endpoint, limit: RateLimit): void;
    /** Spends the current period's budget (of the current API key unless given). */
    exhaust(endpoint: Endpoint, apiKey?: string): void;
    remaining(endpoint: Endpoint, apiKey?: string): number;
    /** Seconds until the current period of `endpoint` ends. */
    resetSeconds(endpoint: Endpoint): number;
    /** Forgets all spending. */
    reset(): void;
  };
  readonly truth: GroundTruth;
  readonly clock: Clock;
}

export const DEFAULT_SIMULATOR_HOST = '127.0.0.1';

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const clock = options.clock ?? systemClock;
  const limiter = new RateLimiter(clock, options.rateLimits);
  const recorder = new Recorder();
  const faults = new FaultQueue();
  const bursts = new BurstSet();
  const latencyBursts = new LatencyBurstSet();
  const data = simData(bursts, latencyBursts);
  const truth = createGroundTruth(clock, data);
  const state: PipelineState = {
    clock,
    keys: checkKeys(options.keys ?? DEFAULT_DEMO_KEYS),
    limiter,
    faults,
    recorder,
    validateRequest: options.validateRequest,
    waits: new Set(),
    data,
  };

  const faultApi = {
    add: (fault: Fault) => faults.add(fault),
    clear: () => faults.clear(),
    pending: () => faults.pending(),
  };
  const burstApi = armedControls<ErrorBurst>(bursts);
  const latencyBurstApi = armedControls<LatencyBurst>(latencyBursts);
  const rateLimit: Simulator['rateLimit'] = {
    get: (endpoint) => limiter.get(endpoint),
    set: (endpoint, limit) => limiter.set(endpoint, limit),
    exhaust: (endpoint, apiKey = state.keys.apiKey) => limiter.exhaust(endpoint, apiKey),
    remaining: (endpoint, apiKey = state.keys.apiKey) => limiter.remaining(endpoint, apiKey),
    resetSeconds: (endpoint) => limiter.resetSeconds(endpoint),
    reset: () => limiter.reset(),
  };
  const setKeys = (keys: ApiKeys): void => {
    state.keys = checkKeys(keys);
  };
  const control: ControlTarget = {
    counts: () => ({
      ...(Object.fromEntries([...ENDPOINTS, 'validate' as const, 'other' as const].map((e) => [e, recorder.count(e)])) as Record<RecordedEndpoint, number>),
      total: recorder.count(),
    }),
    requests: () => recorder.requests,
    invalidCount: () => recorder.invalidCount,
    resetRequests: () => recorder.reset(),
    faults: faultApi,
    bursts: burstApi,
    latencyBursts: latencyBurstApi,
    setKeys,
    currentApiKey: () => state.keys.apiKey,
    rateLimit,
    sampleTraceId: (atMs, sampleOptions) => truth.sampleTraceId(atMs, sampleOptions),
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const isControl = url.pathname === '/_sim' || url.pathname.startsWith('/_sim/');
    const work = isControl ? handleControl(control, req, res, url) : handleDatadogRequest(state, req, res, url);
    work.catch(() => {
      // A simulator bug must still answer, in the endpoint's shape, and keep serving.
      send(res, internalError('other'));
    });
  });
  // Idle keep-alive sockets must not hold close() open.
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? DEFAULT_SIMULATOR_HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;

  let closing: Promise<void> | undefined;
  return {
    url,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        for (const wait of state.waits) wait.abort();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
    get requests() {
      return recorder.requests;
    },
    get invalidRequests() {
      return recorder.invalid;
    },
    get invalidCount() {
      return recorder.invalidCount;
    },
    callCount: (endpoint) => recorder.count(endpoint),
    resetRequests: () => recorder.reset(),
    faults: faultApi,
    bursts: burstApi,
    latencyBursts: latencyBurstApi,
    setKeys,
    get keys() {
      return { ...state.keys };
    },
    rateLimit,
    truth,
    clock,
  };
}

/** Keep-alive idle timeout; short so test servers close promptly, long enough to reuse sockets. */
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
