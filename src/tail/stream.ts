import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { LogRecord } from '../datadog/logs.ts';
import { AppError } from '../errors.ts';
import type { Telemetry } from '../telemetry/telemetry.ts';
import type { CallContext, UpstreamCaller } from '../upstream/types.ts';
import type { Warning } from '../warnings.ts';
import type { TailOptions } from './options.ts';
import { classifyFailure, readWindow, type WindowRead } from './poll.ts';
import { ReplayBuffer } from './replay.ts';
import { SeenIds } from './seen.ts';
import type { TailSource } from './source.ts';
import { sseComment, sseEvent, sseRetry } from './sse.ts';
import { createSubscriberSet, type Subscription } from './subscribers.ts';

/**
 * One live tail: the poll of one (scope, query) and everyone watching it. One poll loop serves
 * every subscriber; each log is sent once (ids remembered in SeenIds), oldest first within a
 * poll, and kept in a replay buffer so that a reconnecting subscriber resumes exactly after
 * its Last-Event-ID. Without subscribers the poll stops at once; the replay buffer is kept a
 * little longer (`dormantKeepMs`) for the subscriber that is about to reconnect.
 */

/** A condition that persists is repeated at most this often, so viewers know it still holds without a line every poll. */
export const WARNING_REPEAT_MS = 60_000;
/** Distinct warning codes whose last time is remembered; the codes are a short fixed list plus Datadog's own. */
const MAX_WARNING_CODES = 50;

export interface JoinRequest {
  /** Send the last N logs first (0: none). */
  backlog: number;
  /** The id of the last event the client saw (the `Last-Event-ID` header). */
  lastEventId: string | undefined;
  /** The subscriber's key: polls are spent by the key of the subscriber connected longest. */
  caller?: UpstreamCaller | undefined;
}

export interface TailStreamDeps {
  partition: string;
  /** The composed Datadog query, scope included. */
  query: string;
  source: TailSource;
  clock: Clock;
  telemetry: Telemetry;
  options: TailOptions;
  log?: Logger | undefined;
  /** Subscribers or polling changed (for the hub's bounds and gauges). */
  changed(): void;
  /** The stream is done for good (kept too long without subscribers, or its query is refused). */
  expired(): void;
}

export interface TailStream {
  /** Polling now (it has subscribers). */
  readonly polling: boolean;
  /** Subscribers connected or joining. */
  readonly subscribers: number;
  /** Starts or joins the poll; resolves once the backlog is written. Throws the first poll's error if the query is refused. */
  join(request: JoinRequest): Promise<Subscription>;
  /** Shutdown: ends every subscription (`event: end`) and the poll. */
  close(): void;
}

export function createTailStream(deps: TailStreamDeps): TailStream {
  const { clock, options, telemetry } = deps;
  const seen = new SeenIds(options.maxSeenIds);
  const replay = new ReplayBuffer(options.replayEvents, options.replayBytes);
  const live = createSubscriberSet({
    clock,
    lifetimeMs: options.maxLifetimeMs,
    maxBufferedBytes: options.maxBufferedBytes,
    left: () => {
      if (live.size + joining === 0) idle();
      deps.changed();
    },
  });
  const warnedAt = new Map<string, number>();
  let joining = 0;
  /** Set while polling; aborting it stops the poll loop and the keep-alives. */
  let run: AbortController | undefined;
  /** Set while dormant; aborting it cancels the expiry. */
  let expiry: AbortController | undefined;
  let ready: Promise<void> = Promise.resolve();
  let isReady = false;
  let closed = false;
  let fatal: AppError | undefined;
  let startedAt: number | undefined;
  /** A poll has answered: the replay buffer holds the stream's past, and every unseen log is news. */
  let baseline = false;
  /** The first poll failed: logs from `startedAt` on are news when the first answer comes. */
  let failedBeforeBaseline = false;
  /** `to` of the latest poll that read its whole window; the next one starts `overlapMs` before. */
  let watermarkMs: number | undefined;
  /** When the latest answer came: what the budget gate weighs like a cached answer's age. */
  let heldAt: number | undefined;
  let failures = 0;
  /** The key of whoever (re)started the poll: it pays until a subscriber is connected. */
  let opener: UpstreamCaller | undefined;
  /** The current trouble, if the latest poll failed: sent to each new subscriber. */
  let condition: Warning | undefined;

  function start(): void {
    expiry?.abort();
    expiry = undefined;
    startedAt ??= clock.now();
    const controller = new AbortController();
    run = controller;
    // A restarted stream's replay buffer is valid at once; a new one waits for its first poll.
    isReady = baseline;
    let markReady = (): void => {};
    ready = isReady
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          markReady = () => {
            isReady = true;
            resolve();
          };
        });
    void loop(controller.signal, () => markReady());
    void keepAlive(controller.signal);
  }

  async function loop(signal: AbortSignal, markReady: () => void): Promise<void> {
    try {
      while (!signal.aborted) {
        const delayMs = await pollOnce(signal);
        markReady();
        if (fatal) {
          stopPolling();
          deps.expired();
          return;
        }
        await clock.sleep(delayMs, signal);
      }
    } catch {
      // The sleep was aborted: the stream stopped.
    } finally {
      markReady();
    }
  }

  /** One poll; never throws. Returns the wait before the next one. */
  async function pollOnce(signal: AbortSignal): Promise<number> {
    const now = clock.now();
    const fromMs = watermarkMs === undefined ? now - options.lookbackMs : Math.max(watermarkMs - options.overlapMs, now - options.lookbackMs);
    // Each poll has its own deadline; the subscribers' requests have none (a stream outlives any).
    const settled = new AbortController();
    const deadline = new AbortController();
    clock.sleep(options.pollTimeoutMs, settled.signal).then(
      () => deadline.abort(new Error('the poll deadline passed')),
      () => {},
    );
    const ctx: CallContext = {
      signal: AbortSignal.any([signal, deadline.signal]),
      deadline: now + options.pollTimeoutMs,
      noCache: false,
      partition: deps.partition,
      stats: { upstreamCalls: 0 },
      poll: { heldAt },
      // A shared poll is spent by one key, within its fair share: the longest-connected viewer's.
      caller: live.senior() ?? opener,
    };
    try {
      // The first poll only fills the replay buffer: one page is plenty.
      const maxPages = baseline ? options.maxPagesPerPoll : 1;
      const read = await readWindow({ source: deps.source, query: deps.query, fromMs, toMs: now, maxPages, seen: (id) => seen.has(id) }, ctx);
      if (signal.aborted) return 0;
      telemetry.tailPoll('ok');
      accept(read, now);
      return options.pollIntervalMs;
    } catch (error) {
      if (signal.aborted) return 0;
      const failure = classifyFailure(error, { intervalMs: options.pollIntervalMs, maxDelayMs: options.maxRetryDelayMs }, failures);
      telemetry.tailPoll(failure.outcome);
      if (failure.outcome === 'failed') failures++;
      if (failure.warning.code === 'internal') deps.log?.error({ err: error }, 'live tail: a poll failed unexpectedly');
      if (failure.fatal && !baseline) {
        fatal = error as AppError;
        return 0;
      }
      if (!baseline) failedBeforeBaseline = true;
      condition = failure.warning;
      warn(failure.warning);
      return failure.delayMs;
    } finally {
      settled.abort();
    }
  }

  /** Sends the logs no earlier poll found, oldest first, and moves the window on. */
  function accept(read: WindowRead, polledAt: number): void {
    // Before the first answer every log is the stream's past (backlog), not news.
    const newsFrom = baseline ? -Infinity : failedBeforeBaseline ? startedAt! : Infinity;
    const fresh = new Map<string, { log: LogRecord; ms: number }>();
    for (const log of read.items) {
      if (!seen.has(log.id) && !fresh.has(log.id)) fresh.set(log.id, { log, ms: timestampMs(log, polledAt) });
    }
    const ordered = [...fresh.values()].sort((a, b) => a.ms - b.ms || (a.log.id < b.log.id ? -1 : a.log.id > b.log.id ? 1 : 0));
    let sent = 0;
    for (const { log, ms } of ordered) {
      seen.add(log.id, ms);
      const frame = sseEvent('log', log, log.id);
      replay.push({ id: log.id, frame });
      if (ms >= newsFrom) sent += live.broadcast(frame);
    }
    if (sent > 0) telemetry.tailEvents('log', sent);
    heldAt = polledAt;
    // An incomplete read is searched again (ids already sent are skipped then).
    if (read.complete || !baseline) watermarkMs = polledAt;
    baseline = true;
    failures = 0;
    condition = undefined;
    if (watermarkMs !== undefined) seen.forgetBefore(watermarkMs - options.overlapMs);
    if (read.gap) {
      warn({
        code: 'tail_gap',
        message: `more new logs matched between two polls than ${options.maxPagesPerPoll} pages hold; the oldest of them were skipped`,
      });
    }
    for (const w of read.warnings) warn(w);
  }

  /** Sends a warning to every subscriber, unless the same code went out within WARNING_REPEAT_MS. */
  function warn(warning: Warning): void {
    const now = clock.now();
    const last = warnedAt.get(warning.code);
    if (last !== undefined && now - last < WARNING_REPEAT_MS) return;
    if (warnedAt.size >= MAX_WARNING_CODES && last === undefined) warnedAt.clear();
    warnedAt.set(warning.code, now);
    const sent = live.broadcast(sseEvent('warning', warning));
    if (sent > 0) telemetry.tailEvents('warning', sent);
    deps.log?.warn({ code: warning.code, subscribers: live.size }, `live tail: ${warning.message}`);
  }

  async function keepAlive(signal: AbortSignal): Promise<void> {
    const frame = sseComment('keep-alive');
    try {
      for (;;) {
        await clock.sleep(options.keepAliveMs, signal);
        live.broadcast(frame);
      }
    } catch {
      // Stopped.
    }
  }

  /** No subscribers left: stop polling, keep the replay buffer for a while. */
  function idle(): void {
    if (!run) return;
    stopPolling();
    if (closed) return;
    const controller = new AbortController();
    expiry = controller;
    clock.sleep(options.dormantKeepMs, controller.signal).then(
      () => {
        if (expiry !== controller) return;
        expiry = undefined;
        deps.expired();
      },
      () => {},
    );
  }

  function stopPolling(): void {
    run?.abort();
    run = undefined;
  }

  return {
    get polling() {
      return run !== undefined;
    },
    get subscribers() {
      return live.size + joining;
    },

    async join(request) {
      if (closed) throw shuttingDown();
      joining++;
      try {
        if (!run) {
          opener = request.caller;
          start();
        }
        deps.changed();
        if (!isReady) await ready;
      } finally {
        joining--;
      }
      if (fatal) throw fatal;
      if (closed || !run) {
        if (live.size + joining === 0) idle();
        deps.changed();
        throw shuttingDown();
      }

      // What the subscriber missed (after its Last-Event-ID), or the backlog it asked for.
      const frames = [sseRetry(options.reconnectDelayMs)];
      let replayed: string[];
      if (request.lastEventId !== undefined) {
        const missed = replay.after(request.lastEventId);
        if (missed) {
          replayed = missed;
        } else {
          frames.push(
            sseEvent('warning', {
              code: 'resume_gap',
              message: 'the last event id is no longer held by this server; logs sent since it may be missing',
            } satisfies Warning),
          );
          replayed = replay.last(request.backlog);
        }
      } else {
        replayed = replay.last(request.backlog);
      }
      frames.push(...replayed);
      if (condition) frames.push(sseEvent('warning', condition));
      if (replayed.length > 0) telemetry.tailEvents('log', replayed.length);
      const subscription = live.add(frames.join(''), request.caller);
      deps.changed();
      return subscription;
    },

    close() {
      closed = true;
      live.endAll('shutdown');
      stopPolling();
      expiry?.abort();
      expiry = undefined;
    },
  };
}

/** The refusal of a subscriber that arrives while the server drains (as load shedding answers it). */
export function shuttingDown(): AppError {
  return new AppError('NOT_READY', 'the server is shutting down; retry shortly', { retryAfterS: 1 });
}

/** A log's time in epoch ms; `fallback` when Datadog sent none (it then sorts with the poll). */
function timestampMs(log: LogRecord, fallback: number): number {
  const ms = log.timestamp === null ? NaN : Date.parse(log.timestamp);
  return Number.isFinite(ms) ? ms : fallback;
}
