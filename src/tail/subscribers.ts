import { PassThrough, type Readable } from 'node:stream';
import type { Clock } from '../clock.ts';
import type { UpstreamCaller } from '../upstream/types.ts';
import { sseEvent } from './sse.ts';

/**
 * The subscribers of one stream: their bodies, the bound on what may wait unread in each, and
 * the end of each subscription (its lifetime, shutdown, or a viewer that stopped reading).
 */

/** Why a subscription ended, sent as `event: end` (a subscriber that hung up gets nothing). */
export type EndReason = 'lifetime' | 'shutdown' | 'slow_consumer';

const END_MESSAGES: Record<Exclude<EndReason, 'slow_consumer'>, string> = {
  lifetime: 'this subscription reached its maximum lifetime; reconnect with Last-Event-ID to resume without a gap',
  shutdown: 'the server is shutting down; reconnect with Last-Event-ID to resume on another replica',
};

export interface Subscription {
  /** The event stream: the response body. */
  body: Readable;
  /** The caller went away; stops writing to it. Safe to call more than once. */
  close(): void;
}

export interface SubscriberSet {
  /** A new subscriber of `caller`'s key whose body starts with `opening`; it ends by itself after its lifetime. */
  add(opening: string, caller: UpstreamCaller | undefined): Subscription;
  /** The key of the subscriber connected longest: the one the stream's polls are spent by. */
  senior(): UpstreamCaller | undefined;
  /** Writes `frame` to every subscriber; returns how many got it. */
  broadcast(frame: string): number;
  endAll(reason: EndReason): void;
  readonly size: number;
}

export interface SubscriberSetDeps {
  clock: Clock;
  lifetimeMs: number;
  maxBufferedBytes: number;
  /** A subscriber left, for whatever reason (it is no longer counted). */
  left(): void;
}

interface Subscriber {
  body: PassThrough;
  caller: UpstreamCaller | undefined;
  /** Aborted when the subscription ends, which cancels its lifetime timer. */
  ended: AbortController;
}

export function createSubscriberSet(deps: SubscriberSetDeps): SubscriberSet {
  const live = new Set<Subscriber>();

  function leave(sub: Subscriber): void {
    if (sub.ended.signal.aborted) return;
    sub.ended.abort();
    live.delete(sub);
    deps.left();
  }

  function end(sub: Subscriber, reason: EndReason): void {
    if (sub.ended.signal.aborted) return;
    // A subscriber that stopped reading would never drain a goodbye: cut it.
    if (reason === 'slow_consumer') sub.body.destroy();
    else sub.body.end(sseEvent('end', { reason, message: END_MESSAGES[reason] }));
    leave(sub);
  }

  /** Writes to one subscriber; one that has stopped reading is ended instead (it resumes by reconnecting). */
  function write(sub: Subscriber, frame: string): boolean {
    // What waits in the body: the response stops taking from it while the socket is full.
    if (sub.body.readableLength + sub.body.writableLength > deps.maxBufferedBytes) {
      end(sub, 'slow_consumer');
      return false;
    }
    sub.body.write(frame);
    return true;
  }

  return {
    add(opening, caller) {
      // Frames stay strings end to end: every subscriber's queue holds the same frames, not copies.
      const sub: Subscriber = { body: new PassThrough({ decodeStrings: false, encoding: 'utf8' }), ended: new AbortController(), caller };
      sub.body.write(opening);
      live.add(sub);
      deps.clock.sleep(deps.lifetimeMs, sub.ended.signal).then(
        () => end(sub, 'lifetime'),
        () => {},
      );
      return {
        body: sub.body,
        close: () => {
          leave(sub);
          sub.body.destroy();
        },
      };
    },

    broadcast(frame) {
      let sent = 0;
      for (const sub of live) if (write(sub, frame)) sent++;
      return sent;
    },

    senior() {
      for (const sub of live) return sub.caller;
      return undefined;
    },

    endAll(reason) {
      for (const sub of [...live]) end(sub, reason);
    },

    get size() {
      return live.size;
    },
  };
}
