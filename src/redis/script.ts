import type { Redis } from 'ioredis';

/**
 * A Lua script run atomically by Redis. ioredis's `defineCommand` sends it by SHA (EVALSHA) and
 * falls back to the text when Redis does not know it yet (first call, or after a restart).
 */
export type Script = (redis: Redis, keys: readonly string[], args: ReadonlyArray<string | number>) => Promise<unknown>;

export function defineScript(name: string, lua: string, numberOfKeys: number): Script {
  return (redis, keys, args) => {
    const commands = redis as unknown as Record<string, (...args: Array<string | number>) => Promise<unknown>>;
    if (typeof commands[name] !== 'function') redis.defineCommand(name, { numberOfKeys, lua });
    return commands[name]!(...keys, ...args);
  };
}
