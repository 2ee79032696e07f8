import { createServer } from 'node:net';

/**
 * A loopback port that was free a moment ago, for listeners where 0 cannot mean "any port"
 * (TINKR_METRICS_PORT=0 disables the metrics listener).
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
