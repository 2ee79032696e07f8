import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { LogRecord } from '../../src/datadog/logs.ts';
import { AppError } from '../../src/errors.ts';
import { tailOptions, type TailOptions } from '../../src/tail/options.ts';
import type { TailSource } from '../../src/tail/source.ts';
import { createTailStream, type TailStream } from '../../src/tail/stream.ts';
import { noTelemetry } from '../../src/telemetry/telemetry.ts';
import { eventually } from '../helpers/eventually.ts';
import { ManualClock } from '../helpers/manual-clock.ts';
import { fakeSource, log, type SourceCall } from './fake-source.ts';

/** One stream over a fake source whose logs the test adds as time goes by. */
const T0 = Date.parse('2026-11-25T04:00:00.000Z');

function setup(logs: LogRecord[], overrides: Partial<TailOptions> = {}, source?: TailSource) {
  const clock = new ManualClock(T0);
  const calls: SourceCall[] = [];
  const expired: number[] = [];
  const stream: TailStream = createTailStream({
    partition: '',
    query: '*',
    source: source ?? fakeSource(logs, calls),
    clock,
    telemetry: noTelemetry,
    options: tailOptions({ pollTimeoutMs: 10_000, ...overrides }),
    changed: () => {},
    expired: () => expired.push(clock.now()),
  });
  return { clock, calls, expired, stream };
}

/** Everything written to a subscription so far, as text. */
function reader(body: Readable): () => string {
  let text = '';
  body.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  return () => text;
}

const logIds = (text: string) => [...text.matchAll(/^id: (.+)$/gm)].map((m) => m[1]);

describe('a tail stream', () => {
  it('sends each new log once, oldest first within a poll, late ones included', async () => {
    const logs = [log('old', T0 - 60_000)];
    const { clock, calls, stream } = setup(logs);
    const sub = await stream.join({ backlog: 0, lastEventId: undefined });
    const text = reader(sub.body);
    logs.push(log('b', T0 + 1_500), log('a', T0 + 500), log('late', T0 - 5_000));
    clock.advance(2_000);
    await eventually(() => logIds(text()).length === 3, 'three logs');
    expect(logIds(text())).toEqual(['late', 'a', 'b']);
    logs.push(log('c', T0 + 2_500));
    clock.advance(2_000);
    await eventually(() => logIds(text()).length === 4, 'one more');
    expect(logIds(text())).toEqual(['late', 'a', 'b', 'c']);
    expect(calls.map((c) => [c.fromMs - T0, c.toMs - T0])).toEqual([
      [-15 * 60_000, 0],
      [-30_000, 2_000],
      [-28_000, 4_000],
    ]);
    sub.close();
  });

  it('ends a subscriber that stops reading, and stops polling when none is left', async () => {
    const logs: LogRecord[] = [];
    const { clock, calls, stream } = setup(logs, { maxBufferedBytes: 0 });
    const sub = await stream.join({ backlog: 0, lastEventId: undefined });
    for (let i = 0; i < 50; i++) logs.push({ ...log(`l${i}`, T0 + i), message: 'x'.repeat(1_000) });
    clock.advance(2_000);
    await eventually(() => sub.body.destroyed, 'the unread subscriber is cut');
    expect(stream.subscribers).toBe(0);
    expect(stream.polling).toBe(false);
    const polled = calls.length;
    clock.advance(10_000);
    expect(calls.length).toBe(polled);
  });

  it('refuses every joiner when Datadog rejects the query on the first poll, and gives up the stream', async () => {
    const rejecting: TailSource = { page: () => Promise.reject(new AppError('UPSTREAM_BAD_QUERY', 'Datadog rejected the logs query: bad')) };
    const { stream, expired } = setup([], {}, rejecting);
    const joins = [stream.join({ backlog: 0, lastEventId: undefined }), stream.join({ backlog: 5, lastEventId: undefined })];
    for (const join of joins) await expect(join).rejects.toMatchObject({ code: 'UPSTREAM_BAD_QUERY' });
    expect(expired).toHaveLength(1);
    expect(stream.polling).toBe(false);
  });

  it('keeps its replay buffer for a while without subscribers, then expires', async () => {
    const logs = [log('old', T0 - 60_000)];
    const { clock, stream, expired } = setup(logs, { dormantKeepMs: 60_000 });
    const first = await stream.join({ backlog: 0, lastEventId: undefined });
    const text = reader(first.body);
    logs.push(log('a', T0 + 1_000));
    clock.advance(2_000);
    await eventually(() => logIds(text()).length === 1, 'a log');
    first.close();
    clock.advance(30_000);
    logs.push(log('b', T0 + 20_000));
    const again = await stream.join({ backlog: 0, lastEventId: 'old' });
    const resumed = reader(again.body);
    await eventually(() => logIds(resumed()).length === 2, 'the replay and the pause');
    expect(logIds(resumed())).toEqual(['a', 'b']);
    again.close();
    expect(expired).toEqual([]);
    clock.advance(60_000);
    await eventually(() => expired.length === 1, 'expired a minute after the last subscriber');
  });
});
