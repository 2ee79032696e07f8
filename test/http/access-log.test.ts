import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CLIENT_CLOSED_STATUS } from '../../src/http/access-log.ts';
import { TEST_TOKEN } from '../helpers/app.ts';
import { capturedLog } from '../helpers/captured-log.ts';
import { eventually } from '../helpers/eventually.ts';
import { openSocket, rawGet } from '../helpers/raw-http.ts';
import { openSse } from '../helpers/sse.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

/**
 * The request log line (docs/operations.md): one per request however it ends, each a JSON
 * object a strict parser accepts (no key twice), through the real server and simulator.
 */

const log = capturedLog('debug');
/**
 * Every line, parsed strictly. JSON is YAML 1.2, and the `yaml` parser with unique keys enforced
 * refuses an object with a key twice, which JSON.parse silently accepts (last one wins).
 */
const lines = () =>
  log
    .text()
    .split('\n')
    .filter(Boolean)
    .map((line) => parse(line, { uniqueKeys: true, schema: 'json' }) as Record<string, unknown>);

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ server: { logger: log.logger } });
});
afterAll(() => stack.close());
beforeEach(() => stack.sim.faults.clear());

describe('the request log line', () => {
  it('has req_id once, and the fields of the request', async () => {
    const res = await stack.app.get('/logs?service=checkout&since=5m&limit=3', { headers: { 'x-request-id': 'one-req-id' } });
    expect(res.status).toBe(200);
    await eventually(() => lines().some((l) => l.req_id === 'one-req-id' && l.msg === 'request'), 'the request is logged');
    // The duplicate-key check runs over every line written so far, whatever wrote it.
    expect(lines().filter((l) => l.req_id === 'one-req-id' && l.msg === 'request')).toEqual([
      expect.objectContaining({ method: 'GET', route: '/logs', status: 200, upstream_calls: 1, cache: 'miss', subject: 'tester' }),
    ]);
    expect(lines().find((l) => l.req_id === 'one-req-id' && l.msg === 'request')).not.toHaveProperty('aborted');
  });

  it('rejects a duplicated key (the check can fail)', () => {
    expect(() => parse('{"req_id":"a","req_id":"a"}', { uniqueKeys: true, schema: 'json' })).toThrow(/unique/);
  });

  it('says so when the caller hangs up while Datadog is slow, instead of an upstream timeout', async () => {
    stack.sim.faults.add({ kind: 'latency', delayMs: 60_000, endpoint: 'logs' });
    const before = stack.sim.callCount('logs');
    const socket = await openSocket(Number(new URL(stack.app.url).port));
    socket.on('error', () => {});
    socket.write(rawGet('/logs?service=ledger&since=7m&limit=2', TEST_TOKEN).replace('\r\n\r\n', '\r\nx-request-id: hangs-up\r\n\r\n'));
    // The request is waiting on the simulator: hang up mid-request.
    await eventually(() => stack.sim.callCount('logs') > before, 'the request reaches Datadog');
    socket.destroy();

    await eventually(() => lines().some((l) => l.req_id === 'hangs-up' && l.msg === 'request'), 'the aborted request is logged');
    const mine = lines().filter((l) => l.req_id === 'hangs-up');
    expect(mine.filter((l) => l.msg === 'request')).toEqual([
      expect.objectContaining({ method: 'GET', route: '/logs', status: CLIENT_CLOSED_STATUS, aborted: 'client_closed', subject: 'tester' }),
    ]);
    // Nothing about it reads as an upstream fault.
    expect(mine.filter((l) => l.level !== 'debug' && (l.level !== 'info' || l.code === 'UPSTREAM_TIMEOUT'))).toEqual([]);
  });

  it('keeps the status a live tail sent when its viewer leaves', async () => {
    const client = await openSse(`${stack.app.url}/logs/tail?service=checkout`, { headers: { authorization: `Bearer ${TEST_TOKEN}`, 'x-request-id': 'tail-viewer' } });
    expect(client.status).toBe(200);
    client.close();
    await eventually(() => lines().some((l) => l.req_id === 'tail-viewer' && l.msg === 'request'), 'the stream is logged');
    expect(lines().filter((l) => l.req_id === 'tail-viewer' && l.msg === 'request')).toEqual([
      expect.objectContaining({ route: '/logs/tail', status: 200, aborted: 'client_closed' }),
    ]);
  });
});
