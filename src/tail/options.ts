/**
 * The live tail's knobs (`GET /logs/tail`, docs/live-tail.md), each with the reason for its default.
 * They are not in the configuration file: the defaults fit an incident room, and tests pass
 * their own through `ServerDeps.tail`.
 */
export interface TailOptions {
  /** Time between the polls of one stream; never below MIN_POLL_INTERVAL_MS. */
  pollIntervalMs: number;
  /** How far back of the previous poll each poll searches again, for logs that arrive late. */
  overlapMs: number;
  /** A `: keep-alive` comment to every subscriber this often. */
  keepAliveMs: number;
  /** Streams (distinct scope and query) polling at once in this process. */
  maxStreams: number;
  /** Subscribers of one stream. */
  maxSubscribersPerStream: number;
  /** A subscription ends after this; an EventSource reconnects with Last-Event-ID by itself. */
  maxLifetimeMs: number;
  /** Log ids one stream remembers to send each log once. */
  maxSeenIds: number;
  /** Events one stream keeps to replay (Last-Event-ID, `limit`), by count and by bytes. */
  replayEvents: number;
  replayBytes: number;
  /** Upstream pages one poll may read when many logs arrived at once. */
  maxPagesPerPoll: number;
  /** Longest wait before the next poll after a failed or rate-limited one. */
  maxRetryDelayMs: number;
  /** Deadline of one poll (all its pages); the server passes `request_timeout_ms`. */
  pollTimeoutMs: number;
  /** A stream without subscribers keeps its replay buffer this long (its poll stops at once). */
  dormantKeepMs: number;
  /** How far back a new stream's first poll looks, to fill the replay buffer. */
  lookbackMs: number;
  /** Bytes (characters) written to a subscriber and not yet taken by its connection, past which it is ended. */
  maxBufferedBytes: number;
  /** The `retry:` an EventSource waits before reconnecting. */
  reconnectDelayMs: number;
}

/** As often as `tinkr tail` polls by default; faster would cost budget for nothing a viewer sees. */
export const MIN_POLL_INTERVAL_MS = 2_000;
/**
 * Log shippers batch (the Datadog Agent flushes every few seconds) and indexing takes a few
 * more, so a log can become searchable well after its timestamp. Thirty seconds covers both
 * with room to spare; it costs no extra call while the window holds less than a page.
 */
export const DEFAULT_OVERLAP_MS = 30_000;
/** docs/live-tail.md; well under the minute after which proxies and load balancers drop idle connections. */
export const DEFAULT_KEEP_ALIVE_MS = 15_000;
/**
 * Every stream polls Datadog. Twenty streams at one poll every 2 s would be 36,000 searches an
 * hour before pacing, far past any logs budget: more streams would only make each one slower.
 */
export const DEFAULT_MAX_STREAMS = 20;
/** An incident room of twenty viewers five times over; each costs a socket, not a poll. */
export const DEFAULT_MAX_SUBSCRIBERS_PER_STREAM = 100;
/**
 * Fifteen minutes. A browser's EventSource reconnects on its own and resumes from Last-Event-ID
 * (kept in the replay buffer), so a live viewer loses nothing. What it bounds: a connection
 * whose viewer vanished without closing it (a laptop lid, a dropped NAT entry) is found by the
 * kernel only after minutes of retransmissions, and meanwhile holds a slot of its stream; every
 * reconnect also passes authentication and the key's quota again, and spreads viewers over
 * the replicas behind a load balancer.
 */
export const DEFAULT_MAX_LIFETIME_MS = 15 * 60_000;
/**
 * Ids of the overlap window are what must be remembered (older ones are never searched
 * again); ten thousand covers a service writing over 300 logs a second, at about a megabyte.
 */
export const DEFAULT_MAX_SEEN_IDS = 10_000;
/** A thousand events (the largest `limit`), at most a mebibyte: 20 streams hold 20 MiB at most. */
export const DEFAULT_REPLAY_EVENTS = 1_000;
export const DEFAULT_REPLAY_BYTES = 1024 * 1024;
/** 5,000 new logs per poll (2,500 a second) for at most five calls; a poll never loops freely. */
export const DEFAULT_MAX_PAGES_PER_POLL = 5;
/**
 * A failing poll backs off up to a minute: a Datadog outage or a spent budget is not fixed by
 * asking more often, and a stream still notices recovery within a minute.
 */
export const DEFAULT_MAX_RETRY_DELAY_MS = 60_000;
/** The default request deadline (`request_timeout_ms`). */
export const DEFAULT_POLL_TIMEOUT_MS = 30_000;
/**
 * An EventSource reconnects after `retry` (2 s); a minute covers that and a flaky network, so a
 * viewer ended by its lifetime, or one whose connection dropped, resumes without a gap even
 * when it was the stream's only viewer.
 */
export const DEFAULT_DORMANT_KEEP_MS = 60_000;
/** The default range of `GET /logs`: what "the last N lines" of a new stream are taken from. */
export const DEFAULT_LOOKBACK_MS = 15 * 60_000;
/**
 * A viewer that stops reading (a paused terminal, a frozen tab) is ended once this much waits
 * for it; it reconnects with Last-Event-ID and resumes from the replay buffer. Room for a full
 * backlog (the replay buffer) and a mebibyte of new logs behind it. The frames are shared by
 * every subscriber of a stream, so this bounds a stream's memory, not each viewer's.
 */
export const DEFAULT_MAX_BUFFERED_BYTES = 2 * 1024 * 1024;
/** Soon enough that a reconnect after the lifetime is unnoticeable, slow enough not to hammer. */
export const DEFAULT_RECONNECT_DELAY_MS = 2_000;

export const DEFAULT_TAIL_OPTIONS: TailOptions = {
  pollIntervalMs: MIN_POLL_INTERVAL_MS,
  overlapMs: DEFAULT_OVERLAP_MS,
  keepAliveMs: DEFAULT_KEEP_ALIVE_MS,
  maxStreams: DEFAULT_MAX_STREAMS,
  maxSubscribersPerStream: DEFAULT_MAX_SUBSCRIBERS_PER_STREAM,
  maxLifetimeMs: DEFAULT_MAX_LIFETIME_MS,
  maxSeenIds: DEFAULT_MAX_SEEN_IDS,
  replayEvents: DEFAULT_REPLAY_EVENTS,
  replayBytes: DEFAULT_REPLAY_BYTES,
  maxPagesPerPoll: DEFAULT_MAX_PAGES_PER_POLL,
  maxRetryDelayMs: DEFAULT_MAX_RETRY_DELAY_MS,
  pollTimeoutMs: DEFAULT_POLL_TIMEOUT_MS,
  dormantKeepMs: DEFAULT_DORMANT_KEEP_MS,
  lookbackMs: DEFAULT_LOOKBACK_MS,
  maxBufferedBytes: DEFAULT_MAX_BUFFERED_BYTES,
  reconnectDelayMs: DEFAULT_RECONNECT_DELAY_MS,
};

/** The defaults with `overrides`, the poll interval held at its floor. */
export function tailOptions(overrides: Partial<TailOptions> = {}): TailOptions {
  const options = { ...DEFAULT_TAIL_OPTIONS, ...overrides };
  return { ...options, pollIntervalMs: Math.max(MIN_POLL_INTERVAL_MS, options.pollIntervalMs) };
}
