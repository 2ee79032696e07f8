import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.ts';
import { createProductionGate } from '../../src/upstream/production-gate.ts';

/** The bound on what answers in production hold: in order, by weight, never past the bound. */

const never = () => new AbortController().signal;
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('production gate', () => {
  it('lets answers in while their weights fit, and the next in order as soon as one is done', async () => {
    const gate = createProductionGate(10_000, 10);
    const a = await gate.admit(5_000, never());
    const b = await gate.admit(5_000, never());
    expect(gate.inProduction).toBe(10_000);

    const order: string[] = [];
    const c = gate.admit(5_000, never()).then((release) => (order.push('c'), release));
    // Light, but after c: it waits its turn rather than passing a heavy answer for ever.
    const d = gate.admit(100, never()).then((release) => (order.push('d'), release));
    await settle();
    expect(gate.queued).toBe(2);
    expect(order).toEqual([]);

    a();
    a(); // a second release changes nothing
    const releaseC = await c;
    await settle();
    expect(order).toEqual(['c']);
    expect(gate.inProduction).toBe(10_000);
    b();
    const releaseD = await d;
    expect(order).toEqual(['c', 'd']);
    expect(gate.inProduction).toBe(5_100);
    releaseC();
    releaseD();
    expect(gate.inProduction).toBe(0);
  });

  it('makes an answer heavier than the bound alone, and counts it at the bound', async () => {
    const gate = createProductionGate(10_000, 10);
    const light = await gate.admit(1, never());
    const heavy = gate.admit(50_000, never());
    await settle();
    expect(gate.queued).toBe(1);
    light();
    const release = await heavy;
    expect(gate.inProduction).toBe(10_000);
    release();
  });

  it('lets a waiting answer go when its caller does, and the ones behind it through', async () => {
    const gate = createProductionGate(10_000, 10);
    const running = await gate.admit(9_000, never());
    const leaving = new AbortController();
    const heavy = gate.admit(5_000, leaving.signal);
    const light = gate.admit(1_000, never());
    await settle();
    leaving.abort(new Error('gone'));
    await expect(heavy).rejects.toThrow('gone');
    (await light)();
    expect(gate.queued).toBe(0);
    running();
  });

  it('refuses at once past its queue, with Retry-After', async () => {
    const gate = createProductionGate(1_000, 1);
    const running = await gate.admit(1_000, never());
    const waiting = gate.admit(1_000, never());
    const refused = await gate.admit(1_000, never()).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AppError);
    expect(refused).toMatchObject({ code: 'NOT_READY', retryAfterS: 1 });
    running();
    (await waiting)();
  });
});
