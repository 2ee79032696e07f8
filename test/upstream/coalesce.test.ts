import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createCoalescer, FlightAbandoned, type Flight } from '../../src/upstream/coalesce.ts';
import { ManualClock } from '../helpers/manual-clock.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

const NOW = Date.parse('2026-11-25T04:00:00.000Z');
const eventually = (check: () => void) => vi.waitFor(check, { timeout: 15_000, interval: 5 });

/** A call the test finishes by hand, recording the flight it was given. */
function manualCall<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const flights: Flight[] = [];
  const begin = (flight: Flight) => {
    flights.push(flight);
    return new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
      flight.signal.addEventListener('abort', () => rej(flight.signal.reason), { once: true });
    });
  };
  return { begin, flights, resolve: (v: T) => resolve(v), reject: (e: unknown) => reject(e) };
}

const waiter = (deadline: number, controller = new AbortController()) => ({ signal: controller.signal, deadline, controller });

describe('coalescer', () => {
  it('shares one call between identical requests and forgets it on success', async () => {
    const clock = new ManualClock(NOW);
    const flights = createCoalescer(clock);
    const call = manualCall<string>();
    const first = flights.run('k', waiter(NOW + 1_000), call.begin);
    const second = flights.run('k', waiter(NOW + 1_000), call.begin);
    expect(call.flights).toHaveLength(1);
    expect(flights.size).toBe(1);
    expect(flights.waiters).toBe(2);
    call.resolve('answer');
    await expect(first).resolves.toEqual({ value: 'answer', joined: false });
    await expect(second).resolves.toEqual({ value: 'answer', joined: true });
    expect(flights.size).toBe(0);
    expect(flights.waiters).toBe(0);
  });

  it('keeps different keys apart', async () => {
    const flights = createCoalescer(new ManualClock(NOW));
    const a = manualCall<string>();
    const b = manualCall<string>();
    const first = flights.run('a', waiter(NOW + 1_000), a.begin);
    const second = flights.run('b', waiter(NOW + 1_000), b.begin);
    expect(flights.size).toBe(2);
    a.resolve('A');
    b.resolve('B');
    expect((await first).value).toBe('A');
    expect((await second).value).toBe('B');
  });

  it('gives every waiter the error and forgets the call', async () => {
    const flights = createCoalescer(new ManualClock(NOW));
    const call = manualCall<string>();
    const first = flights.run('k', waiter(NOW + 1_000), call.begin);
    const second = flights.run('k', waiter(NOW + 1_000), call.begin);
    call.reject(new Error('upstream broke'));
    await expect(first).rejects.toThrow('upstream broke');
    await expect(second).rejects.toThrow('upstream broke');
    expect(flights.size).toBe(0);
    expect(flights.waiters).toBe(0);
  });

  it('forgets a call whose start throws at once', async () => {
    const flights = createCoalescer(new ManualClock(NOW));
    const run = flights.run('k', waiter(NOW + 1_000), () => {
      throw new Error('bad request');
    });
    await expect(run).rejects.toThrow('bad request');
    expect(flights.size).toBe(0);
  });

  it('aborts the shared call at the latest deadline, not the earliest, and forgets it', async () => {
    const clock = new ManualClock(NOW);
    const flights = createCoalescer(clock);
    const call = manualCall<string>();
    const early = flights.run('k', waiter(NOW + 1_000), call.begin).catch((error: unknown) => error);
    const late = flights.run('k', waiter(NOW + 5_000), call.begin).catch((error: unknown) => error);
    clock.advance(1_000);
    expect(call.flights[0]!.signal.aborted).toBe(false);
    expect(call.flights[0]!.deadline).toBe(NOW + 5_000);
    // The timer re-arms for the later deadline once the event loop has run.
    await eventually(() => expect(clock.pendingSleeps).toBe(1));
    clock.advance(4_000);
    await eventually(() => expect(call.flights[0]!.signal.aborted).toBe(true));
    expect(call.flights[0]!.signal.reason).toBeInstanceOf(FlightAbandoned);
    expect(await early).toBeInstanceOf(FlightAbandoned);
    expect(String(await late)).toMatch(/latest deadline/);
    expect(flights.size).toBe(0);
  });

  it('lets one waiter leave without cancelling the call for the others', async () => {
    const flights = createCoalescer(new ManualClock(NOW));
    const call = manualCall<string>();
    const leaving = waiter(NOW + 1_000);
    const first = flights.run('k', leaving, call.begin);
    const second = flights.run('k', waiter(NOW + 1_000), call.begin);
    leaving.controller.abort(new Error('the caller went away'));
    await expect(first).rejects.toThrow('the caller went away');
    expect(call.flights[0]!.signal.aborted).toBe(false);
    expect(flights.waiters).toBe(1);
    call.resolve('answer');
    await expect(second).resolves.toEqual({ value: 'answer', joined: true });
    expect(flights.size).toBe(0);
  });

  it('aborts and forgets the call when every waiter has gone; the next caller starts afresh', async () => {
    const flights = createCoalescer(new ManualClock(NOW));
    const call = manualCall<string>();
    const a = waiter(NOW + 1_000);
    const b = waiter(NOW + 1_000);
    const first = flights.run('k', a, call.begin);
    const second = flights.run('k', b, call.begin);
    a.controller.abort(new Error('gone'));
    b.controller.abort(new Error('gone'));
    await expect(first).rejects.toThrow('gone');
    await expect(second).rejects.toThrow('gone');
    expect(call.flights[0]!.signal.aborted).toBe(true);
    expect(flights.size).toBe(0);
    const next = manualCall<string>();
    const third = flights.run('k', waiter(NOW + 1_000), next.begin);
    next.resolve('fresh');
    await expect(third).resolves.toEqual({ value: 'fresh', joined: false });
  });

  it('refuses a waiter that has already gone', async () => {
    const flights = createCoalescer(new ManualClock(NOW));
    const gone = waiter(NOW + 1_000);
    gone.controller.abort(new Error('too late'));
    await expect(flights.run('k', gone, manualCall<string>().begin)).rejects.toThrow('too late');
    expect(flights.size).toBe(0);
  });

  it('runs calls alone beyond its bound instead of growing', async () => {
    const flights = createCoalescer(new ManualClock(NOW), 1);
    const a = manualCall<string>();
    const b = manualCall<string>();
    const first = flights.run('a', waiter(NOW + 1_000), a.begin);
    const second = flights.run('b', waiter(NOW + 1_000), b.begin);
    expect(flights.size).toBe(1);
    a.resolve('A');
    b.resolve('B');
    expect(await second).toEqual({ value: 'B', joined: false });
    expect((await first).value).toBe('A');
  });
});

describe('coalescing through the server', () => {
  const clock = new ManualClock(NOW);
  let stack: Stack;
  beforeEach(async () => {
    clock.set(NOW);
    stack = await startStack({ clock });
  });
  afterEach(async () => {
    stack.sim.assertNoViolations();
    await stack.close();
  });

  const PATH = '/logs?service=checkout&since=15m&limit=10';

  it('answers 20 concurrent identical requests with exactly one upstream call', async () => {
    stack.sim.faults.add({ kind: 'latency', delayMs: 1_000, endpoint: 'logs' });
    const responses = Array.from({ length: 20 }, () => stack.app.get(PATH));
    await eventually(() => expect(stack.engine.inspect().waiters).toBe(20));
    expect(stack.sim.callCount('logs')).toBe(1);
    clock.advance(1_000);
    const answers = await Promise.all(responses);
    const bodies = await Promise.all(answers.map((r) => r.json() as Promise<{ data: unknown[] }>));
    expect(stack.sim.callCount('logs')).toBe(1);
    expect(answers.map((r) => r.status)).toEqual(Array(20).fill(200));
    const statuses = answers.map((r) => r.headers.get('x-tinkr-cache'));
    expect(statuses.filter((s) => s === 'miss')).toHaveLength(1);
    expect(statuses.filter((s) => s === 'coalesced')).toHaveLength(19);
    for (const body of bodies) expect(body).toEqual(bodies[0]);
    expect(bodies[0]!.data).toHaveLength(10);
    expect(stack.engine.inspect()).toMatchObject({ flights: 0, waiters: 0 });
  });

  it('keeps serving the others when one caller disconnects', async () => {
    stack.sim.faults.add({ kind: 'latency', delayMs: 1_000, endpoint: 'logs' });
    const hangUp = new AbortController();
    const leaving = stack.app.get(PATH, { signal: hangUp.signal }).catch((error: unknown) => error);
    await eventually(() => expect(stack.engine.inspect().waiters).toBe(1));
    const staying = stack.app.get(PATH);
    await eventually(() => expect(stack.engine.inspect().waiters).toBe(2));
    hangUp.abort();
    expect(await leaving).toBeInstanceOf(Error);
    await eventually(() => expect(stack.engine.inspect().waiters).toBe(1));
    expect(stack.engine.inspect().flights).toBe(1);
    clock.advance(1_000);
    const res = await staying;
    expect(res.status).toBe(200);
    expect(res.headers.get('x-tinkr-cache')).toBe('coalesced');
    expect(((await res.json()) as { data: unknown[] }).data).toHaveLength(10);
    expect(stack.sim.callCount('logs')).toBe(1);
    expect(stack.engine.inspect().flights).toBe(0);
  });

  it('abandons the call when its only caller disconnects, and starts afresh for the next', async () => {
    stack.sim.faults.add({ kind: 'latency', delayMs: 60_000, endpoint: 'logs' });
    const hangUp = new AbortController();
    const leaving = stack.app.get(PATH, { signal: hangUp.signal }).catch((error: unknown) => error);
    await eventually(() => expect(stack.engine.inspect().waiters).toBe(1));
    hangUp.abort();
    await leaving;
    await eventually(() => expect(stack.engine.inspect()).toMatchObject({ flights: 0, waiters: 0, active: 0 }));
    const next = await stack.app.get(PATH);
    expect(next.status).toBe(200);
    expect(next.headers.get('x-tinkr-cache')).toBe('miss');
    expect(stack.sim.callCount('logs')).toBe(2);
  });

  it('forgets the call after an upstream error', async () => {
    stack.sim.faults.add({ kind: 'status', status: 400, message: 'no such facet', endpoint: 'logs' });
    const [a, b] = await Promise.all([stack.app.get(PATH), stack.app.get(PATH)]);
    expect([a.status, b.status]).toEqual([400, 400]);
    expect(stack.sim.callCount('logs')).toBe(1);
    expect(stack.engine.inspect()).toMatchObject({ flights: 0, waiters: 0, active: 0 });
    const next = await stack.app.get(PATH);
    expect(next.status).toBe(200);
  });

  it('forgets the call when the deadline passes', async () => {
    stack.sim.faults.add({ kind: 'latency', delayMs: 60_000, endpoint: 'logs' });
    const slow = stack.app.get(PATH);
    await eventually(() => expect(stack.engine.inspect().waiters).toBe(1));
    // startApp's request deadline is 10 s.
    clock.advance(10_000);
    const res = await slow;
    expect(res.status).toBe(504);
    expect(((await res.json()) as { code: string }).code).toBe('UPSTREAM_TIMEOUT');
    await eventually(() => expect(stack.engine.inspect()).toMatchObject({ flights: 0, waiters: 0, active: 0 }));
  });

  it('coalesces a no-cache request too', async () => {
    stack.sim.faults.add({ kind: 'latency', delayMs: 1_000, endpoint: 'logs' });
    const first = stack.app.get(PATH);
    await eventually(() => expect(stack.engine.inspect().waiters).toBe(1));
    const refresh = stack.app.get(PATH, { headers: { 'cache-control': 'no-cache' } });
    await eventually(() => expect(stack.engine.inspect().waiters).toBe(2));
    clock.advance(1_000);
    expect((await first).headers.get('x-tinkr-cache')).toBe('miss');
    expect((await refresh).headers.get('x-tinkr-cache')).toBe('coalesced');
    expect(stack.sim.callCount('logs')).toBe(1);
  });
});
