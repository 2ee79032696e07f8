import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboards } from '../../bench/fleet/mix.ts';
import { panelPath, panelUpstreamRequest, type Panel } from '../../bench/fleet/panels.ts';
import { ManualClock } from '../helpers/manual-clock.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

/**
 * The pass-through baseline is only fair if each panel's Datadog request is the one the gateway
 * sends for it. Every distinct panel of the fleet goes through the real server; the request the
 * simulator records must equal the bench's translation, time range aside (the server may snap
 * relative ranges to a step).
 */
const NOW = Date.parse('2026-11-25T04:00:00.000Z');
const clock = new ManualClock(NOW);
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ clock });
});
afterAll(() => stack.close());
afterEach(() => stack.sim.assertNoViolations());

function distinctPanels(): Panel[] {
  const byPath = new Map<string, Panel>();
  for (const mix of ['mixed', 'analytics'] as const) for (const d of buildDashboards(10, 8, mix, NOW)) for (const p of d.panels) byPath.set(panelPath(p), p);
  return [...byPath.values()];
}

/** The request without its time range. */
function timeless(request: { method: string; path: string; query?: Record<string, string>; body?: unknown }): unknown {
  const query = { ...request.query };
  delete query.from;
  delete query.to;
  const body = structuredClone(request.body) as { filter?: Record<string, unknown>; data?: { attributes?: { filter?: Record<string, unknown> } } } | undefined;
  for (const filter of [body?.filter, body?.data?.attributes?.filter]) {
    if (filter) {
      delete filter.from;
      delete filter.to;
    }
  }
  return { method: request.method, path: request.path, query, body };
}

describe('panel translation', () => {
  it('is, for every distinct panel of the fleet, the request the gateway sends', async () => {
    const panels = distinctPanels();
    expect(panels.length).toBeGreaterThan(20);
    for (const panel of panels) {
      const before = stack.sim.callCount();
      const res = await stack.app.get(panelPath(panel), { headers: { 'cache-control': 'no-cache' } });
      expect(res.status, panelPath(panel)).toBe(200);
      expect(stack.sim.callCount() - before, panelPath(panel)).toBe(1);
      const recorded = stack.sim.requests.at(-1)!;
      const expected = panelUpstreamRequest(panel, NOW);
      expect(timeless({ method: recorded.method, path: recorded.path, query: recorded.query, body: recorded.body }), panelPath(panel)).toEqual(
        timeless({ ...expected, query: expected.query ?? {} }),
      );
    }
  });
});
