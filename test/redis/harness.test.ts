import { afterAll, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.ts';

/** The test harness itself: a real redis-server that can be stopped, paused and restarted. */

const servers: TestRedis[] = [];
afterAll(async () => {
  for (const server of servers) await server.close();
});

describe('startTestRedis', () => {
  it('starts redis-server on a loopback port, with a password when asked, and restarts it empty on the same port', async () => {
    const redis = await startTestRedis({ password: 'harness-pass-1' });
    servers.push(redis);
    expect(redis.url).toBe(`redis://:harness-pass-1@127.0.0.1:${redis.port}`);
    expect(redis.cli('SET', 'k', 'v')).toBe('OK');
    expect(redis.cli('GET', 'k')).toBe('v');
    await redis.kill();
    expect(redis.running).toBe(false);
    expect(redis.cli('PING')).not.toBe('PONG');
    await redis.restart();
    expect(redis.cli('PING')).toBe('PONG');
    expect(redis.cli('GET', 'k')).toBe('');
  });
});
