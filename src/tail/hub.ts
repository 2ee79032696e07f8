import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import { AppError } from '../errors.ts';
import type { Telemetry } from '../telemetry/telemetry.ts';
import type { TailOptions } from './options.ts';
import type { TailSource } from './source.ts';
import { createTailStream, shuttingDown, type JoinRequest, type TailStream } from './stream.ts';
import type { Subscription } from './subscribers.ts';

/**
 * Every live tail of this process, one stream per (scope partition, composed query): N viewers
 * of the same query cost one upstream poll per interval. Bounded: `maxStreams` polling at once
 * and `maxSubscribersPerStream` each, past which a new subscriber gets 503 NOT_READY with
 * Retry-After before any stream starts.
 */

/** Retry-After of a refusal past a bound: viewers come and go over minutes in an incident, not seconds. */
export const BOUND_RETRY_AFTER_S = 30;

export interface SubscribeRequest extends JoinRequest {
  /** The caller's scope partition: keys of different scopes never share a stream. */
  partition: string;
  /** The composed Datadog query, scope clauses included. */
  query: string;
}

export interface TailHub {
  /** Joins the stream of this partition and query, starting it if needed. */
  subscribe(request: SubscribeRequest): Promise<Subscription>;
  /** Shutdown: ends every subscription (`event: end`) and stops every poll; later subscribers get 503. */
  close(): void;
  /** Streams polling, streams kept without subscribers, and subscribers (for tests). */
  inspect(): { polling: number; dormant: number; subscribers: number };
}

export interface TailHubDeps {
  source: TailSource;
  clock: Clock;
  telemetry: Telemetry;
  options: TailOptions;
  log?: Logger | undefined;
}

export function createTailHub(deps: TailHubDeps): TailHub {
  const { options } = deps;
  const streams = new Map<string, TailStream>();
  let closed = false;

  function inspect(): { polling: number; dormant: number; subscribers: number } {
    let polling = 0;
    let subscribers = 0;
    for (const stream of streams.values()) {
      if (stream.polling) polling++;
      subscribers += stream.subscribers;
    }
    return { polling, dormant: streams.size - polling, subscribers };
  }

  function report(): void {
    const { polling, subscribers } = inspect();
    deps.telemetry.tailStreams(polling, subscribers);
  }

  /** Streams without subscribers hold only a replay buffer; as many as polling ones are kept, oldest dropped first. */
  function dropDormant(): void {
    for (const [key, stream] of streams) {
      if (streams.size <= 2 * options.maxStreams) return;
      if (stream.polling || stream.subscribers > 0) continue;
      stream.close();
      streams.delete(key);
    }
  }

  return {
    subscribe(request) {
      if (closed) return Promise.reject(shuttingDown());
      const key = `${request.partition}\n${request.query}`;
      let stream = streams.get(key);
      if (!stream?.polling && inspect().polling >= options.maxStreams) {
        return Promise.reject(
          new AppError('NOT_READY', `this server already tails ${options.maxStreams} different queries, its limit; retry in ${BOUND_RETRY_AFTER_S} s`, {
            retryAfterS: BOUND_RETRY_AFTER_S,
          }),
        );
      }
      if (stream && stream.subscribers >= options.maxSubscribersPerStream) {
        return Promise.reject(
          new AppError('NOT_READY', `this tail already has ${options.maxSubscribersPerStream} subscribers, its limit; retry in ${BOUND_RETRY_AFTER_S} s`, {
            retryAfterS: BOUND_RETRY_AFTER_S,
          }),
        );
      }
      if (!stream) {
        const created: TailStream = createTailStream({
          partition: request.partition,
          query: request.query,
          source: deps.source,
          clock: deps.clock,
          telemetry: deps.telemetry,
          options,
          log: deps.log,
          changed: report,
          expired: () => {
            if (streams.get(key) === created) streams.delete(key);
            report();
          },
        });
        stream = created;
        streams.set(key, stream);
        dropDormant();
      }
      return stream.join({ backlog: request.backlog, lastEventId: request.lastEventId, caller: request.caller });
    },

    close() {
      closed = true;
      for (const stream of streams.values()) stream.close();
      streams.clear();
      report();
    },

    inspect,
  };
}
