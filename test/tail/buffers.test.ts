import { describe, expect, it } from 'vitest';
import { ReplayBuffer } from '../../src/tail/replay.ts';
import { SeenIds } from '../../src/tail/seen.ts';
import { isEventId, sseComment, sseEvent, sseRetry } from '../../src/tail/sse.ts';

describe('SSE frames', () => {
  it('puts the JSON data on one line, so no payload can end a frame or forge a field', () => {
    const frame = sseEvent('log', { message: 'line one\n\nevent: end\r\ndata: forged' }, 'abc');
    expect(frame).toBe('event: log\nid: abc\ndata: {"message":"line one\\n\\nevent: end\\r\\ndata: forged"}\n\n');
    expect(frame.slice(0, -2).split('\n')).toHaveLength(3);
  });

  it('leaves out an id that cannot be one, and writes comments and retry on their own lines', () => {
    expect(sseEvent('log', {}, 'a\nb')).toBe('event: log\ndata: {}\n\n');
    expect(sseEvent('log', {}, '')).toBe('event: log\ndata: {}\n\n');
    expect(isEventId('x'.repeat(257))).toBe(false);
    expect(sseComment('keep\nalive')).toBe(': keep alive\n\n');
    expect(sseRetry(2000)).toBe('retry: 2000\n\n');
  });
});

describe('ReplayBuffer', () => {
  const entry = (id: string, size = 10) => ({ id, frame: id.padEnd(size, '.') });

  it('gives the frames after an id, or undefined once that id is gone', () => {
    const buffer = new ReplayBuffer(3, 1_000);
    for (const id of ['a', 'b', 'c', 'd']) buffer.push(entry(id));
    expect(buffer.after('b')).toEqual([entry('c').frame, entry('d').frame]);
    expect(buffer.after('d')).toEqual([]);
    expect(buffer.after('a')).toBeUndefined();
    expect(buffer.last(2)).toEqual([entry('c').frame, entry('d').frame]);
    expect(buffer.last(0)).toEqual([]);
    expect(buffer.last(10)).toHaveLength(3);
  });

  it('is bounded by bytes as well as by count', () => {
    const buffer = new ReplayBuffer(100, 25);
    for (const id of ['a', 'b', 'c']) buffer.push(entry(id));
    expect(buffer.size).toBe(2);
    expect(buffer.after('a')).toBeUndefined();
  });
});

describe('SeenIds', () => {
  it('forgets ids older than a time, and the earliest first past its size', () => {
    const seen = new SeenIds(3);
    seen.add('a', 100);
    seen.add('b', 200);
    seen.add('c', 300);
    seen.forgetBefore(200);
    expect([seen.has('a'), seen.has('b'), seen.has('c')]).toEqual([false, true, true]);
    seen.add('d', 400);
    seen.add('e', 500);
    expect([seen.has('b'), seen.has('c'), seen.has('e'), seen.size]).toEqual([false, true, true, 3]);
  });
});
