import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envOnlyStart, scratchDirs, startCli, VIOLATIONS_MARKER, type Scratch } from '../helpers/cli.ts';
import { startTestSimulator, type TestSimulator } from '../helpers/simulator.ts';
import { openSse } from '../helpers/sse.ts';

/**
 * `tinkr-server` as a real child process, stopped with SIGTERM while live tails stream: the
 * streams are ended (`event: end`, reason `shutdown`) so the drain finishes without waiting for
 * `shutdown_timeout_ms`, and the process exits 0.
 */
const TOKEN = 'tail-shutdown-test-token';

let sim: TestSimulator;
let scratch: Scratch;
beforeAll(async () => {
  sim = await startTestSimulator();
  scratch = scratchDirs('tinkr-tail-shutdown-');
});
afterAll(async () => {
  sim.assertNoViolations();
  await sim.close();
  scratch.cleanup();
});

describe('tinkr-server shutdown with live tails open', () => {
  it('ends every stream and exits 0 without reaching the shutdown timeout', async () => {
    const server = await startCli([], { scratch, env: envOnlyStart(sim.url, { token: TOKEN, subject: 'tail-shutdown', quota: 'off' }) });
    const headers = { authorization: `Bearer ${TOKEN}` };
    const clients = await Promise.all([
      openSse(`${server.url}/logs/tail?service=checkout&limit=5`, { headers }),
      openSse(`${server.url}/logs/tail?service=checkout`, { headers }),
      openSse(`${server.url}/logs/tail?service=ledger&level=error`, { headers }),
    ]);
    expect(clients.map((c) => c.status)).toEqual([200, 200, 200]);
    await clients[0]!.until((c) => c.logIds().length === 5, 'the backlog arrives');

    const result = await server.stop();
    expect(result.code).toBe(0);
    expect(result.stderr).not.toContain(VIOLATIONS_MARKER);
    for (const client of clients) {
      await client.until((c) => c.ended, 'the stream ends');
      expect(client.data('end')).toEqual([{ reason: 'shutdown', message: expect.stringContaining('Last-Event-ID') }]);
    }
    const messages = server.logLines().map((l) => l.msg);
    expect(messages).toContain('stopped');
    expect(messages).not.toContain('shutdown timeout reached: closing the connections still open');
  });
});
