import { getHeapStatistics } from 'node:v8';
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Clock } from '../clock.ts';
import { AppError } from '../errors.ts';
import type { ShedReason, Telemetry } from '../telemetry/telemetry.ts';
import { eventLoopDelayProbe, LagJudge, type LagProbe } from './event-loop-lag.ts';
import { sendProblem } from './problem.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served even when overloaded or draining: liveness must not flap under load. */
    alwaysServe?: boolean;
  }
}

/**
 * Mean event-loop delay per sample above which a sample counts as lagging; requests are shed
 * once LAG_SAMPLES_TO_SHED samples in a row lag, and never during the start-up grace period
 * (http/event-loop-lag.ts). A second of delay means every request already waits a second
 * before any of our code runs; queueing more only makes every answer late, so new work is
 * refused until the loop catches up.
 */
export const DEFAULT_MAX_EVENT_LOOP_DELAY_MS = 1_000;
/**
 * Default heap ceiling as a share of V8's heap limit (`--max-old-space-size`, or what Node
 * derives from the container's memory). Past it V8 spends its time collecting and then aborts
 * the whole process with "heap out of memory"; refusing new work first lets in-flight work end.
 */
export const DEFAULT_HEAP_USED_FRACTION = 0.9;
/**
 * RSS is not checked by default: it also counts buffers and native memory the heap check cannot
 * see, but its safe ceiling is the container's memory limit, which only the operator knows.
 */
export const DEFAULT_MAX_RSS_BYTES = 0;
/** How often pressure is measured: under-pressure's own default, cheap and quick enough to react. */
export const DEFAULT_SAMPLE_INTERVAL_MS = 1_000;
/** Retry-After of a shed request: a few samples, so pressure can clear before the caller comes back. */
export const SHED_RETRY_AFTER_S = 5;
/** Retry-After while draining: another replica (or this one, restarted) can take it at once. */
export const DRAIN_RETRY_AFTER_S = 1;
/** At most one "shedding load" warning per this interval, so an overload does not also flood the log. */
const SHED_LOG_INTERVAL_MS = 10_000;

export interface LoadSheddingOptions {
  /** 0 disables the check. */
  maxEventLoopDelayMs: number;
  /** Undefined: DEFAULT_HEAP_USED_FRACTION of V8's heap limit; 0 disables the check. */
  maxHeapUsedBytes: number | undefined;
  /** 0 disables the check. */
  maxRssBytes: number;
  /** Tests shorten it; default DEFAULT_SAMPLE_INTERVAL_MS. */
  sampleIntervalMs?: number;
  /** Lag-based shedding starts this long after listening; default STARTUP_GRACE_MS (tests shorten it). */
  startupGraceMs?: number;
  /** Lagging samples in a row before shedding; default LAG_SAMPLES_TO_SHED. */
  lagSamplesToShed?: number;
  /** Where delay readings come from; default Node's event-loop delay histogram (tests inject readings). */
  lagProbe?: LagProbe;
}

/** The heap ceiling when none is configured: a share of this process's V8 heap limit. */
export function defaultMaxHeapUsedBytes(): number {
  return Math.floor(getHeapStatistics().heap_size_limit * DEFAULT_HEAP_USED_FRACTION);
}

const REASONS: Record<string, ShedReason> = {
  [underPressure.TYPE_HEAP_USED_BYTES]: 'heap_used',
  [underPressure.TYPE_RSS_BYTES]: 'rss',
};

export interface LoadSheddingDeps {
  /** Undefined: only the shutdown part (tests whose in-process simulator may block the loop). */
  limits: LoadSheddingOptions | undefined;
  telemetry: Telemetry;
  clock: Clock;
}

/**
 * Answers 503 NOT_READY with Retry-After, instead of serving, when the server cannot serve well:
 * under sustained event-loop lag (LagJudge: not during start-up, not on one slow sample), under
 * memory pressure (`@fastify/under-pressure`, at once: memory use does not spike with start-up
 * or with a busy host), and while draining for shutdown (requests that still arrive on an open
 * keep-alive connection). Routes marked `alwaysServe` (`/healthz`) are exempt. Register before
 * authentication: shedding must be cheap.
 */
export const loadShedding = fp<LoadSheddingDeps>(
  async (app: FastifyInstance, deps) => {
    let draining = false;
    app.addHook('preClose', async () => {
      draining = true;
    });
    app.addHook('onRequest', async (request, reply) => {
      if (!draining || exempt(request)) return;
      deps.telemetry.requestShed('shutting_down');
      return sendProblem(reply, new AppError('NOT_READY', 'the server is shutting down; retry shortly', { retryAfterS: DRAIN_RETRY_AFTER_S }));
    });
    // Closing the server closes the connections idle at that moment; one whose last request
    // ends later would stay open as keep-alive and hold the drain until its timeout (72 s in
    // Fastify). So each answer sent while draining closes whatever has become idle. (Not
    // "Connection: close" on the answer: that would drop requests pipelined behind it.)
    app.addHook('onResponse', async () => {
      if (draining) setImmediate(() => app.server.closeIdleConnections());
    });

    if (!deps.limits) return;
    const limits = deps.limits;
    const sampleIntervalMs = limits.sampleIntervalMs ?? DEFAULT_SAMPLE_INTERVAL_MS;
    let lastWarning = -Infinity;
    const shed = (reason: ShedReason, value: number | undefined): never => {
      deps.telemetry.requestShed(reason);
      const now = deps.clock.now();
      if (now - lastWarning >= SHED_LOG_INTERVAL_MS) {
        lastWarning = now;
        const { lagProbe: _probe, ...thresholds } = limits;
        app.log.warn({ reason, value: value === undefined ? undefined : Math.round(value), limits: thresholds }, 'shedding load: answering 503 until pressure clears');
      }
      throw new AppError('NOT_READY', `the server is overloaded; retry in ${SHED_RETRY_AFTER_S} s`, { retryAfterS: SHED_RETRY_AFTER_S });
    };

    if (limits.maxEventLoopDelayMs > 0) {
      const judge = new LagJudge({
        maxDelayMs: limits.maxEventLoopDelayMs,
        clock: deps.clock,
        ...(limits.startupGraceMs !== undefined ? { graceMs: limits.startupGraceMs } : {}),
        ...(limits.lagSamplesToShed !== undefined ? { samplesToShed: limits.lagSamplesToShed } : {}),
      });
      let stop: (() => void) | undefined;
      app.addHook('onListen', async () => {
        if (stop) return;
        judge.started();
        stop = (limits.lagProbe ?? eventLoopDelayProbe).start(sampleIntervalMs, (delayMs) => judge.record(delayMs));
      });
      app.addHook('onClose', async () => stop?.());
      app.addHook('onRequest', async (request) => {
        const lag = judge.overloaded();
        if (lag !== undefined && !exempt(request)) shed('event_loop_delay', lag);
      });
    }

    await app.register(underPressure, {
      // Event-loop delay is judged above, over a window; under-pressure checks memory only.
      maxEventLoopDelay: 0,
      maxHeapUsedBytes: limits.maxHeapUsedBytes ?? defaultMaxHeapUsedBytes(),
      maxRssBytes: limits.maxRssBytes,
      sampleInterval: sampleIntervalMs,
      pressureHandler: async (request, _reply, type, value) => {
        if (exempt(request)) return;
        shed(REASONS[type] ?? 'heap_used', typeof value === 'number' ? value : undefined);
      },
    });
  },
  { name: 'load-shedding' },
);

function exempt(request: FastifyRequest): boolean {
  return request.routeOptions.config.alwaysServe === true;
}
