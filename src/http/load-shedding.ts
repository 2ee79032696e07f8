import { getHeapStatistics } from 'node:v8';
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Clock } from '../clock.ts';
import { AppError } from '../errors.ts';
import type { ShedReason, Telemetry } from '../telemetry.ts';
import { sendProblem } from './problem.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served even when overloaded or draining: liveness must not flap under load. */
    alwaysServe?: boolean;
  }
}

/**
 * Mean event-loop delay (over one sample) above which requests are shed. A second of delay
 * means every request already waits a second before any of our code runs; queueing more only
 * makes every answer late, so new work is refused until the loop catches up.
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
}

export const DEFAULT_LOAD_SHEDDING: LoadSheddingOptions = {
  maxEventLoopDelayMs: DEFAULT_MAX_EVENT_LOOP_DELAY_MS,
  maxHeapUsedBytes: undefined,
  maxRssBytes: DEFAULT_MAX_RSS_BYTES,
};

/** The heap ceiling when none is configured: a share of this process's V8 heap limit. */
export function defaultMaxHeapUsedBytes(): number {
  return Math.floor(getHeapStatistics().heap_size_limit * DEFAULT_HEAP_USED_FRACTION);
}

const REASONS: Record<string, ShedReason> = {
  [underPressure.TYPE_EVENT_LOOP_DELAY]: 'event_loop_delay',
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
 * under event-loop lag or memory pressure (`@fastify/under-pressure`), and while draining for
 * shutdown (requests that still arrive on an open keep-alive connection). Routes marked
 * `alwaysServe` (`/healthz`) are exempt. Register before authentication: shedding must be cheap.
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
    /** When the server started listening; the loop's delay before that was the boot's, not load. */
    let listeningAt: number | undefined;
    app.addHook('onListen', async () => {
      listeningAt = deps.clock.now();
    });
    await app.register(underPressure, {
      maxEventLoopDelay: limits.maxEventLoopDelayMs,
      maxHeapUsedBytes: limits.maxHeapUsedBytes ?? defaultMaxHeapUsedBytes(),
      maxRssBytes: limits.maxRssBytes,
      sampleInterval: sampleIntervalMs,
      pressureHandler: async (request, _reply, type, value) => {
        if (exempt(request)) return;
        const reason = REASONS[type] ?? 'event_loop_delay';
        // A lag sample only counts once it was taken wholly while serving: the boot (module
        // compilation, route setup) blocks the loop on a slow or busy machine, and an interval
        // with no sample at all (under-pressure reports it as infinite) measured nothing.
        if (reason === 'event_loop_delay' && (!Number.isFinite(value) || listeningAt === undefined || deps.clock.now() - listeningAt < 2 * sampleIntervalMs)) return;
        deps.telemetry.requestShed(reason);
        const now = deps.clock.now();
        if (now - lastWarning >= SHED_LOG_INTERVAL_MS) {
          lastWarning = now;
          app.log.warn({ reason, value: typeof value === 'number' ? Math.round(value) : undefined, limits }, 'shedding load: answering 503 until pressure clears');
        }
        throw new AppError('NOT_READY', `the server is overloaded; retry in ${SHED_RETRY_AFTER_S} s`, { retryAfterS: SHED_RETRY_AFTER_S });
      },
    });
  },
  { name: 'load-shedding' },
);

function exempt(request: FastifyRequest): boolean {
  return request.routeOptions.config.alwaysServe === true;
}
